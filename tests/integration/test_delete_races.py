"""Every deleting path against a push of the same digest, in the interleavings that lost
pushed tags (docs/deletes.md): a delete decided on a snapshot re-checks on the locked row,
and a push that meets a row being deleted waits and records itself again.

Each test runs a real push through the gate (real distribution) inside a deleter's step, in
a thread: a push that is not held by a lock finishes within a moment, one that is waits
for the deleter's commit. Run on PostgreSQL by default; test_delete_races_on_sqlite runs
this module again on the embedded SQLite database.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client, TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from audit.models import AuditLog
from harbor_gc import untagged
from harbor_py.core.actor import Actor
from jobs.models import Execution, Task
from jobs.runner import JobContext
from projects.models import Project
from quotas import usage
from quotas.models import Quota
from registry import blob_sizes, deletion, push, selectors, services, upstream
from registry.manifests import MANIFEST_ACCEPT, parse_manifest
from registry.models import Artifact, Blob, Repository, Tag
from replication.local import LocalRegistry
from tests.distribution import bearer, put_manifest, stored_manifest, upload_blob
from tests.imagegen import OCI_CONFIG, OCI_INDEX, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer
from tests.integration.conftest import PASSWORD, at_statement, basic, modules_on_sqlite

pytest_plugins = ["tests.distribution_plugin"]
# transaction=True: the concurrent push runs in a thread on its own connection.
pytestmark = pytest.mark.django_db(transaction=True)

REPO = "demo/app"
HELD = 2.0  # seconds a push gets to finish before the deleter goes on without it


class Background:
    """A call in a thread with its own database connection."""

    def __init__(self, call: Callable[[], object]) -> None:
        self.result: object = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self.in_time = False  # finished within HELD seconds (_meanwhile)

        def run() -> None:
            try:
                self.result = call()
            except BaseException as exc:  # reported by join()
                self.error = exc
            finally:
                connection.close()
                self.done.set()

        threading.Thread(target=run, daemon=True).start()

    def join(self) -> object:
        assert self.done.wait(60), "the concurrent call did not finish"
        if self.error is not None:
            raise self.error
        return self.result


def _once(monkeypatch, owner: object, name: str, before: Callable[..., object]) -> None:
    """Run `before(*args)` on the first call of owner.name, then the original."""
    original = getattr(owner, name)
    fired = []

    def wrapper(*args, **kwargs):
        if not fired:
            fired.append(1)
            before(*args, **kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(owner, name, wrapper)


def _meanwhile(call: Callable[[], object]) -> Background:
    """Start `call` and give it HELD seconds: enough to finish unless a lock holds it."""
    background = Background(call)
    background.in_time = background.done.wait(HELD)
    return background


def _json(doc: dict) -> bytes:
    return json.dumps(doc).encode()


def _image(architecture: str = "amd64") -> dict:
    layer = random_layer(256)
    config = _json({"architecture": architecture, "os": "linux", "nonce": os.urandom(4).hex()})
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": upload_blob(REPO, config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": OCI_LAYER_GZIP, "digest": upload_blob(REPO, layer), "size": len(layer)}
        ],
    }


def _digest(doc: dict) -> str:
    return "sha256:" + hashlib.sha256(_json(doc)).hexdigest()


def _index(children: list[dict]) -> dict:
    return {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": _digest(child),
                "size": len(_json(child)),
                "platform": {"architecture": f"arch{i}", "os": "linux"},
            }
            for i, child in enumerate(children)
        ],
    }


def _sbom(subject: dict) -> dict:
    empty = b"{}"
    upload_blob(REPO, empty)
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.example.sbom.v1",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": "sha256:" + hashlib.sha256(empty).hexdigest(),
            "size": 2,
        },
        "layers": [],
        "subject": {
            "mediaType": OCI_MANIFEST,
            "digest": _digest(subject),
            "size": len(_json(subject)),
        },
    }


def _push(doc: dict, reference: str) -> int:
    return put_manifest("owner", REPO, reference, doc, doc["mediaType"]).status_code


def _pushed(doc: dict, reference: str) -> None:
    assert _push(doc, reference) == 201


def _untag(name: str) -> None:
    Tag.objects.filter(repository__name=REPO, name=name).delete()


def _pulls_back(doc: dict, reference: str) -> None:
    """Through the gate, bit for bit, and every blob still in distribution."""
    response = Client().get(
        f"/v2/{REPO}/manifests/{reference}",
        HTTP_ACCEPT=MANIFEST_ACCEPT,
        HTTP_AUTHORIZATION=bearer("owner", REPO, {"pull"}),
    )
    assert response.status_code == 200, response.content
    assert response.content == _json(doc)
    for descriptor in [doc.get("config"), *doc.get("layers", [])]:
        if descriptor:
            path = f"/v2/{REPO}/blobs/{descriptor['digest']}"
            found = upstream.request("HEAD", REPO, path, frozenset({"pull"}))
            assert found.status_code == 200, descriptor["digest"]


def _untagged_image() -> dict:
    """An image pushed as `old`, then untagged: what GC's delete_untagged takes."""
    doc = _image()
    _pushed(doc, "old")
    _untag("old")
    return doc


def _pushed_index(tag: str) -> tuple[dict, list[dict]]:
    """An index over two images pushed by digest, pushed as `tag`; (index, children)."""
    children = [_image(), _image("arm64")]
    for child in children:
        _pushed(child, _digest(child))
    index = _index(children)
    _pushed(index, tag)
    return index, children


def _push_while_deleting(monkeypatch, doc: dict, tag: str) -> list[Background]:
    """Push `doc` as `tag` while a deleter deletes manifests from distribution (the
    first time it does); the push, in the list, once started."""
    pushes: list[Background] = []
    _once(
        monkeypatch,
        deletion,
        "_delete_manifests",
        lambda *args: pushes.append(_meanwhile(lambda: _push(doc, tag))),
    )
    return pushes


def _quota_exact(project) -> None:
    assert Quota.objects.get(project=project).used == usage.measured(project.pk)


def _delete_untagged() -> None:
    """GC's untagged-artifact step alone (window 0), without the blob sweep."""
    execution = Execution.objects.create(vendor_type="GARBAGE_COLLECTION", parameters={})
    task = Task.objects.create(execution=execution)
    context = JobContext(task.pk, execution.pk, {})
    untagged.delete_untagged_artifacts(
        context, timezone.now() + dt.timedelta(seconds=1), dry_run=False
    )


def _after_reserve(monkeypatch, step: Callable[[], object]) -> None:
    """Run `step` between a push's reserve and the rest of it (distribution's PUT and the
    tag), once."""
    _once_after(monkeypatch, push, "reserve", step)


def _once_after(monkeypatch, owner: object, name: str, step: Callable[[], object]) -> None:
    original = getattr(owner, name)
    fired = []

    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        if not fired:
            fired.append(1)
            step()
        return result

    monkeypatch.setattr(owner, name, wrapper)


@pytest.fixture
def project(distribution, make_user, make_project):
    return make_project("demo", owner=make_user("owner"))


def test_gc_keeps_an_artifact_tagged_while_it_deletes(project, monkeypatch):
    """GC listed the artifact untagged; a push re-tags it as GC deletes it."""
    doc = _untagged_image()
    pushes = _push_while_deleting(monkeypatch, doc, "new")
    _delete_untagged()
    assert pushes and pushes[0].join() == 201
    _pulls_back(doc, "new")
    _quota_exact(project)


def test_gc_between_a_pushs_reserve_and_complete(project, monkeypatch):
    """The push has recorded the artifact but not yet its tag when GC takes it."""
    doc = _untagged_image()
    _after_reserve(monkeypatch, _delete_untagged)
    _pushed(doc, "new")
    _pulls_back(doc, "new")
    _quota_exact(project)
    log = list(AuditLog.objects.order_by("pk").values_list("username", "operation"))
    assert log[-2:] == [(untagged.GC_USER, "delete"), ("owner", "create")]


def test_a_push_that_loses_its_artifact_and_then_its_blobs_leaves_no_manifest(project, monkeypatch):
    """GC takes the untagged artifact between the push's reserve and its PUT, and its
    sweep then claims the blobs: the push either succeeds whole, or fails and leaves no
    manifest in storage that no artifact row accounts for (fsck's unknown manifests)."""
    doc = _untagged_image()
    digests = [_digest(doc), doc["config"]["digest"], *(d["digest"] for d in doc["layers"])]
    _after_reserve(monkeypatch, _delete_untagged)
    original = upstream.request
    swept = []

    def request(method, repository, path, *args, **kwargs):
        result = original(method, repository, path, *args, **kwargs)
        if method == "PUT" and "/manifests/" in path and not swept:
            swept.append(1)  # the state a sweep leaves while it deletes the blobs
            Blob.objects.filter(digest__in=digests).update(status=Blob.Status.DELETING)
        return result

    monkeypatch.setattr(upstream, "request", request)
    if _push(doc, "new") == 201:
        _pulls_back(doc, "new")
    else:
        assert not Artifact.objects.filter(digest=_digest(doc)).exists()
        assert stored_manifest(REPO, _digest(doc)).status_code == 404


def test_gc_keeps_an_index_and_its_children_retagged_after_the_snapshot(project, monkeypatch):
    index, children = _pushed_index("old")
    _untag("old")
    _listed_then(monkeypatch, lambda: _pushed(index, "new"))
    _delete_untagged()
    _pulls_back(index, "new")
    for child in children:
        _pulls_back(child, _digest(child))
    _quota_exact(project)


def test_gc_keeps_accessories_of_a_subject_retagged_after_the_snapshot(project, monkeypatch):
    subject = _image()
    _pushed(subject, "old")
    sbom = _sbom(subject)
    _pushed(sbom, _digest(sbom))
    _untag("old")
    _listed_then(monkeypatch, lambda: _pushed(subject, "new"))
    _delete_untagged()
    _pulls_back(subject, "new")
    _pulls_back(sbom, _digest(sbom))
    assert Artifact.objects.filter(digest=_digest(sbom), subject_digest=_digest(subject)).exists()


def _listed_then(monkeypatch, step: Callable[[], object]) -> None:
    """GC takes its snapshot of untagged artifacts, then `step` runs, then GC deletes."""
    original = untagged.untagged_roots
    fired = []

    class Snapshot(list):
        def iterator(self):
            return iter(self)

    def wrapper(cutoff):
        if fired:
            return original(cutoff)
        fired.append(1)
        listed = Snapshot(original(cutoff))
        assert listed, "nothing was listed as untagged"
        step()
        return listed

    monkeypatch.setattr(untagged, "untagged_roots", wrapper)


def test_gc_deletes_an_index_but_keeps_a_child_tagged_while_it_deletes(project, monkeypatch):
    index, children = _pushed_index("old")
    _untag("old")
    pushes = _push_while_deleting(monkeypatch, children[0], "child")
    _delete_untagged()
    assert pushes[0].join() == 201
    _pulls_back(children[0], "child")
    assert not Artifact.objects.filter(digest=_digest(index)).exists()
    assert not Artifact.objects.filter(digest=_digest(children[1])).exists()
    _quota_exact(project)


def test_api_delete_of_an_index_keeps_a_child_tagged_while_it_deletes(project, monkeypatch):
    index, children = _pushed_index("multi")
    pushes = _push_while_deleting(monkeypatch, children[1], "arm")
    found = Artifact.objects.get(digest=_digest(index))
    deletion.delete_artifact(artifact=found, actor=Actor(username="owner"))
    assert pushes[0].join() == 201
    _pulls_back(children[1], "arm")
    _quota_exact(project)


def test_api_artifact_delete_between_a_pushs_reserve_and_complete(project, client_for, monkeypatch):
    """A user deletes the artifact (by its first tag) while it is pushed under another."""
    from accounts.models import User

    doc = _image()
    _pushed(doc, "v1")
    api = client_for(User.objects.get(username="owner"))
    url = f"/api/v2.0/projects/demo/repositories/app/artifacts/{_digest(doc)}"
    deletes: list[Background] = []
    _after_reserve(
        monkeypatch, lambda: deletes.append(_meanwhile(lambda: api.delete(url).status_code))
    )
    _pushed(doc, "v2")
    assert deletes[0].join() == 200
    _pulls_back(doc, "v2")
    assert not Tag.objects.filter(name="v1").exists()  # the recorded delete took it
    _quota_exact(project)


def test_v2_manifest_delete_between_a_pushs_reserve_and_complete(project, monkeypatch):
    """A registry client (or a replication deleting at this destination) deletes the
    manifest by digest while the same digest is pushed under another tag."""
    doc = _image()
    _pushed(doc, "v1")

    def delete() -> int:
        return (
            Client()
            .delete(
                f"/v2/{REPO}/manifests/{_digest(doc)}",
                HTTP_AUTHORIZATION=bearer("owner", REPO, {"delete"}),
            )
            .status_code
        )

    deletes: list[Background] = []
    _after_reserve(monkeypatch, lambda: deletes.append(_meanwhile(delete)))
    _pushed(doc, "v2")
    assert deletes[0].join() == 202
    _pulls_back(doc, "v2")
    assert stored_manifest(REPO, _digest(doc)).status_code == 200
    _quota_exact(project)


def test_replicated_manifest_written_while_gc_deletes_it(project, monkeypatch):
    """Replication into this instance reuses an untagged artifact GC takes meanwhile."""
    doc = _untagged_image()
    _after_reserve(monkeypatch, _delete_untagged)
    LocalRegistry().put_manifest(REPO, "replicated", _json(doc), OCI_MANIFEST)
    _pulls_back(doc, "replicated")
    _quota_exact(project)


def test_api_tag_delete_leaves_a_tag_a_push_moved_meanwhile(project, client_for, monkeypatch):
    """DELETE .../artifacts/<old>/tags/t while a push moves t to another artifact: the tag
    the push wrote stays (the delete removes t only while it is on <old>)."""
    from accounts.models import User

    old, new = _image(), _image()
    _pushed(old, "t")
    api = client_for(User.objects.get(username="owner"))
    url = f"/api/v2.0/projects/demo/repositories/app/artifacts/{_digest(old)}/tags/t"
    pushes: list[Background] = []
    _once(
        monkeypatch,
        services,
        "check_tags",
        lambda **kwargs: pushes.append(_meanwhile(lambda: _push(new, "t"))),
    )
    answer = api.delete(url).status_code
    assert pushes[0].join() == 201
    _pulls_back(new, "t")
    # PostgreSQL lets the push move the tag first, and the delete then finds it elsewhere;
    # SQLite's write lock holds the push until the delete of the old tag has committed.
    assert answer == (404 if connection.vendor == "postgresql" else 200)


# A delete removes the rows that reference its artifacts before it locks the project's
# quota row (quotas.usage's notes): a push into the project meanwhile is not held by it.
REFERENCES_DELETED = 'DELETE FROM "artifact_blob"'
QUOTA_LOCK = "SELECT id, hard, used FROM quota"


def _sharing_the_layer_of(doc: dict) -> dict:
    """Another image (a config of its own) over the same layer as `doc`."""
    return {**_image(), "layers": doc["layers"]}


def _blob_sizes(doc: dict) -> int:
    """What an image adds to its project's usage: its manifest, config and layers."""
    return len(_json(doc)) + doc["config"]["size"] + sum(layer["size"] for layer in doc["layers"])


def test_a_push_sharing_a_blob_with_an_artifact_being_deleted_is_counted_once(project):
    """The delete has removed (not committed) the references of the artifact; a push of an
    image over the same layer charges it meanwhile: on PostgreSQL without waiting for the
    delete, seeing the layer still referenced; the delete then sees the push's reference and
    keeps the layer counted. Failed before the quota row was locked after the deletes (the
    push waited for the whole delete)."""
    old = _image()
    _pushed(old, "old")
    new = _sharing_the_layer_of(old)
    pushes: list[Background] = []
    url = f"/api/v2.0/projects/demo/repositories/app/artifacts/{_digest(old)}"

    def push_meanwhile() -> None:
        pushes.append(_meanwhile(lambda: _push(new, "new")))

    with at_statement(REFERENCES_DELETED, push_meanwhile):
        assert _api_delete(url) == 200
    assert pushes[0].join() == 201
    if connection.vendor == "postgresql":  # SQLite: the push waits for the write lock
        assert pushes[0].in_time, "the push waited for the delete"
    _pulls_back(new, "new")
    _quota_exact(project)
    assert Quota.objects.get(project=project).used == _blob_sizes(new)


def test_a_copy_moving_the_tag_of_an_artifact_being_deleted_is_not_held_by_it(project):
    """One transaction records a whole push (a copy, replication into this instance) and so
    writes its tag holding the quota row. The delete is about to lock that row, its
    artifact's tag still in place: the copy moves the tag and commits without waiting for
    the delete (a delete that had removed its tags before the lock would hold the copy on
    the tag row while waiting for the row the copy holds: a deadlock), and the delete then
    leaves the moved tag alone."""
    old = _image()
    _pushed(old, "t")
    new = _image()
    body = _json(new)
    stored = upstream.request(
        "PUT",
        REPO,
        f"/v2/{REPO}/manifests/{_digest(new)}",
        frozenset({"pull", "push"}),
        headers={"Content-Type": OCI_MANIFEST},
        content=body,
    )
    assert stored.status_code == 201
    project_row = Project.objects.get(pk=project.pk)

    def copy() -> object:
        return services.record_manifest_push(
            project=project_row,
            repository_name=REPO,
            parsed=parse_manifest(body, OCI_MANIFEST),
            tag="t",
            actor=Actor(username="owner"),
        )

    copies: list[Background] = []
    artifact = Artifact.objects.select_related("repository").get(digest=_digest(old))
    with at_statement(QUOTA_LOCK, lambda: copies.append(_meanwhile(copy)), before=True):
        assert deletion.delete_artifact(artifact=artifact, actor=Actor(username="owner"))
    copies[0].join()
    if connection.vendor == "postgresql":  # SQLite: the copy waits for the write lock
        assert copies[0].in_time, "the copy waited for the delete"
    assert Tag.objects.get(repository__name=REPO, name="t").artifact.digest == _digest(new)
    _pulls_back(new, "t")
    _quota_exact(project)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="runs the module on SQLite")
def test_delete_races_on_sqlite(tmp_path: Path):
    """The same races on the embedded default's database: SQLite has no row locks, and
    every write transaction holds the database's write lock from BEGIN IMMEDIATE."""
    result = modules_on_sqlite(tmp_path, __file__)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout and "skipped" in result.stdout


def test_a_deleted_tag_leaves_storage_too(project, client_for, distribution):
    """distribution refuses tag DELETEs: the tag's link goes from storage after the commit,
    so that fsck sees no stale tag and a look-up by tag in distribution misses it."""
    from accounts.models import User

    doc = _image()
    _pushed(doc, "gone")
    _pushed(doc, "kept")
    link = distribution.root / f"docker/registry/v2/repositories/{REPO}/_manifests/tags"
    assert (link / "gone/current/link").exists()
    api = client_for(User.objects.get(username="owner"))
    url = f"/api/v2.0/projects/demo/repositories/app/artifacts/{_digest(doc)}/tags/gone"
    assert api.delete(url).status_code == 200
    assert not (link / "gone").exists()
    assert (link / "kept/current/link").exists()
    _pulls_back(doc, "kept")


def _api_delete(url: str) -> int:
    """A DELETE on the API as the project's owner (real Basic credentials)."""
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=basic("owner", PASSWORD))
    with TestCase.captureOnCommitCallbacks(execute=True):
        return api.delete(url).status_code


def _gone_from_the_repository(docs: list[dict], project) -> None:
    assert not Repository.objects.filter(name=REPO).exists()
    assert not Artifact.objects.filter(repository__name=REPO).exists()
    for doc in docs:
        assert stored_manifest(REPO, _digest(doc)).status_code == 404
    _quota_exact(project)


def _while_the_index_is_locked(monkeypatch, url: str) -> list[Background]:
    """Start an API DELETE of `url` once a deep delete has locked its root, before it locks
    the children; the DELETE, in the list, once started."""
    deletes: list[Background] = []
    _once(
        monkeypatch,
        selectors,
        "deletion_set",
        lambda *args: deletes.append(_meanwhile(lambda: _api_delete(url))),
    )
    return deletes


@pytest.mark.parametrize("first", ["api", "gc"])
def test_repository_delete_racing_an_index_delete_answers_no_5xx(project, monkeypatch, first):
    """The index delete (API, or GC's of an untagged index) locks the index, then its
    older children; the repository delete locks every artifact in id order: on PostgreSQL
    a deadlock, and one of the two is aborted. The victim runs again; neither answers 5xx,
    and the repository is gone."""
    index, children = _pushed_index("multi")
    repository_url = "/api/v2.0/projects/demo/repositories/app"
    deletes = _while_the_index_is_locked(monkeypatch, repository_url)
    if first == "gc":
        _untag("multi")
        _delete_untagged()
    else:
        answer = _api_delete(f"{repository_url}/artifacts/{_digest(index)}")
        assert answer in (200, 404)  # 404: the repository delete took the index first
    assert deletes[0].join() == 200
    _gone_from_the_repository([index, *children], project)


def test_api_deletes_of_an_index_and_of_its_child_answer_no_5xx(project, monkeypatch):
    """The child's delete comes while the index's delete holds the index: it answers 412
    (an index still references it) or 404 (the index delete took it), and both are gone."""
    index, children = _pushed_index("multi")
    base = "/api/v2.0/projects/demo/repositories/app/artifacts"
    deletes = _while_the_index_is_locked(monkeypatch, f"{base}/{_digest(children[0])}")
    assert _api_delete(f"{base}/{_digest(index)}") == 200
    assert deletes[0].join() in (404, 412)
    assert not Artifact.objects.filter(repository__name=REPO).exists()
    for doc in [index, *children]:
        assert stored_manifest(REPO, _digest(doc)).status_code == 404
    _quota_exact(project)


def test_repository_delete_between_a_pushs_reserve_and_complete(project, monkeypatch):
    """The repository (and the artifact the push reserved) is deleted before the push puts
    its manifest: the push records itself again, in a repository it creates anew."""
    doc = _image()
    _pushed(doc, "v1")
    url = "/api/v2.0/projects/demo/repositories/app"
    _after_reserve(monkeypatch, lambda: _meanwhile(lambda: _api_delete(url)).join())
    _pushed(doc, "v2")
    assert Repository.objects.filter(name=REPO).exists()
    assert list(Tag.objects.filter(repository__name=REPO).values_list("name", flat=True)) == ["v2"]
    _pulls_back(doc, "v2")
    _quota_exact(project)


def test_push_while_a_repository_delete_deletes_its_manifests(project, monkeypatch):
    """A push of a digest the repository holds arrives while the repository delete holds
    its rows: it either lands in a repository that exists afterwards and pulls back, or
    fails with an error a client retries (never 5xx, never success with nothing behind)."""
    doc, other = _image(), _image()
    _pushed(doc, "v1")
    _pushed(other, "other")
    pushes = _push_while_deleting(monkeypatch, doc, "v2")
    assert _api_delete("/api/v2.0/projects/demo/repositories/app") == 200
    answer = pushes[0].join()
    if answer == 201:
        assert list(Tag.objects.filter(repository__name=REPO).values_list("name", flat=True)) == [
            "v2"
        ]
        _pulls_back(doc, "v2")
        assert stored_manifest(REPO, _digest(other)).status_code == 404
        _quota_exact(project)
    else:
        assert answer in (404, 503), answer  # BLOB_UNKNOWN / UNAVAILABLE: push again
        _gone_from_the_repository([doc, other], project)


def test_a_push_that_loses_three_rounds_to_deletes_answers_503(project, monkeypatch):
    """A deleter takes the artifact after every reserve: after push.ATTEMPTS rounds the
    gate gives up with OCI's UNAVAILABLE, having recorded and PUT nothing; pushed again,
    the image lands."""
    doc = _image()
    _pushed(doc, "v1")
    rounds = []

    def delete_reserved() -> None:
        rounds.append(1)
        found = Artifact.objects.get(digest=_digest(doc))
        assert deletion.delete_artifact(artifact=found, actor=Actor(username="owner"))

    original = push.reserve

    def reserve(*args, **kwargs):
        reservation = original(*args, **kwargs)
        delete_reserved()
        return reservation

    monkeypatch.setattr(push, "reserve", reserve)
    response = put_manifest("owner", REPO, "v2", doc, OCI_MANIFEST)
    assert len(rounds) == push.ATTEMPTS
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    errors = response.json()["errors"]
    assert [e["code"] for e in errors] == ["UNAVAILABLE"] and errors[0]["message"]
    assert not Artifact.objects.filter(digest=_digest(doc)).exists()
    assert stored_manifest(REPO, _digest(doc)).status_code == 404
    _quota_exact(project)
    monkeypatch.setattr(push, "reserve", original)
    _pushed(doc, "v2")  # what the client does next
    _pulls_back(doc, "v2")


def test_project_delete_between_a_pushs_lookup_and_reserve(project, monkeypatch):
    """The (empty) project is deleted after the push found it and before it records its
    repository: the push answers 404 NAME_UNKNOWN (not a 500 from the foreign key), and
    nothing is left behind."""
    doc = _image()
    _once_after(
        monkeypatch,
        blob_sizes,
        "verified_sizes",
        lambda: _meanwhile(lambda: _api_delete("/api/v2.0/projects/demo")).join(),
    )
    response = put_manifest("owner", REPO, "v1", doc, doc["mediaType"])
    assert response.status_code == 404, response.content
    assert [e["code"] for e in response.json()["errors"]] == ["NAME_UNKNOWN"]
    assert not Project.objects.filter(name="demo").exists()
    assert not Repository.objects.filter(name=REPO).exists()
    assert stored_manifest(REPO, _digest(doc)).status_code == 404


def test_a_subject_delete_and_a_signature_push_do_not_interleave(project, monkeypatch):
    """#23: the push of an accessory pins its subject. A delete that has locked the subject
    holds the push until it commits; the signature is then recorded for a digest that no
    artifact has (adopted if that digest is pushed again), never left behind by a delete
    that had read the subject's accessories before the push committed."""
    from registry.accessories import cosign_tag
    from tests import signing

    subject = _image()
    _pushed(subject, "v1")
    digest = _digest(subject)
    doc, blobs = signing.cosign_signature(signing.ec_key(), digest)
    for blob in blobs:
        upload_blob(REPO, blob.data)
    pushes: list[tuple[Background, bool]] = []

    def push_signature(root, *, deep):  # the deleter holds the subject's lock here
        background = _meanwhile(lambda: _push(doc, cosign_tag(digest)))
        pushes.append((background, background.done.is_set()))

    _once(monkeypatch, deletion, "_locked_deletion_set", push_signature)
    artifact = Artifact.objects.select_related("repository").get(digest=digest)
    assert deletion.delete_artifact(artifact=artifact, actor=Actor(username="owner"))
    background, finished_meanwhile = pushes[0]
    assert not finished_meanwhile, "the signature's push was not held by the delete"
    assert background.join() == 201
    signature = Artifact.objects.get(digest=_digest(doc))
    assert signature.subject_digest == digest and not Artifact.objects.filter(digest=digest)
