"""Retention against a real push through the gate (issue #25, the rule of docs/deletes.md):
a push that re-tags an artifact while retention deletes it waits for the delete and
records itself again, so its tag pulls back bit for bit; a push that re-tags it before the
delete locks it keeps it. A real distribution; the push runs in a thread on its own
connection."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Callable

import pytest
from django.db import connection
from django.test import Client
from django.utils import timezone

from harbor_py.core.actor import Actor
from quotas import usage
from quotas.models import Quota
from registry import deletion, upstream
from registry.manifests import MANIFEST_ACCEPT
from registry.models import Artifact, Tag
from retention import runs, services
from tests.distribution import bearer, put_manifest, upload_blob
from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer
from tests.integration.conftest import at_statement

pytest_plugins = ["tests.distribution_plugin"]
pytestmark = pytest.mark.django_db(transaction=True)
REPO = "race/app"
EVERY = {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]}


def _image() -> dict:
    layer = random_layer(256)
    config = json.dumps({"architecture": "amd64", "os": "linux", "n": os.urandom(4).hex()})
    return {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": upload_blob(REPO, config.encode()),
            "size": len(config),
        },
        "layers": [
            {"mediaType": OCI_LAYER_GZIP, "digest": upload_blob(REPO, layer), "size": len(layer)}
        ],
    }


def _push(doc: dict, tag: str) -> int:
    return put_manifest("owner", REPO, tag, doc, OCI_MANIFEST).status_code


def _pulls_back(doc: dict, tag: str) -> None:
    response = Client().get(
        f"/v2/{REPO}/manifests/{tag}",
        HTTP_ACCEPT=MANIFEST_ACCEPT,
        HTTP_AUTHORIZATION=bearer("owner", REPO, {"pull"}),
    )
    assert response.status_code == 200, response.content
    assert response.content == json.dumps(doc).encode()
    for descriptor in [doc["config"], *doc["layers"]]:
        found = upstream.request(
            "HEAD", REPO, f"/v2/{REPO}/blobs/{descriptor['digest']}", frozenset({"pull"})
        )
        assert found.status_code == 200


class Background:
    def __init__(self, call: Callable[[], object]) -> None:
        self.result: object = None
        self.done = threading.Event()
        self.in_time = False  # finished within the seconds a test gave it

        def run() -> None:
            try:
                self.result = call()
            finally:
                connection.close()
                self.done.set()

        threading.Thread(target=run, daemon=True).start()


@pytest.fixture
def project(distribution, make_user, make_project):
    return make_project("race", owner=make_user("owner"))


def _old_and_new(project) -> tuple[dict, dict]:
    old, new = _image(), _image()
    assert _push(old, "old") == 201
    assert _push(new, "new") == 201
    earlier = timezone.now() - timezone.timedelta(days=1)
    Tag.objects.filter(name="old").update(push_time=earlier)
    Artifact.objects.filter(tags__name="old").update(push_time=earlier)
    return old, new


def _run(project) -> dict:
    rule = {
        "template": "latestPushedK",
        "params": {"latestPushedK": 1},
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
        "scope_selectors": EVERY,
    }
    policy = services.create_policy(project=project, data={"rules": [rule]}, actor=Actor("a"))
    # committed, so the eager Celery of the tests runs the job here, as a worker would
    execution = services.start(policy=policy, dry_run=False, actor=Actor("a"))
    execution.refresh_from_db()
    assert execution.status == "Success", execution.status_message
    return execution.extra_attrs


def test_a_push_that_retags_while_retention_deletes_waits_and_lands(project, monkeypatch):
    old, _new = _old_and_new(project)
    pushes: list[Background] = []
    original = deletion._delete_manifests

    def push_meanwhile(*args, **kwargs):
        if not pushes:
            pushes.append(Background(lambda: _push(old, "again")))
            assert not pushes[0].done.wait(2.0), "the push did not wait for the delete"
        return original(*args, **kwargs)

    monkeypatch.setattr(deletion, "_delete_manifests", push_meanwhile)
    results = _run(project)
    assert pushes[0].done.wait(60)
    assert pushes[0].result == 201
    assert results["deleted"] == 1  # it decided on the snapshot, under the lock
    assert set(Tag.objects.filter(repository__name=REPO).values_list("name", flat=True)) == {
        "new",
        "again",
    }
    _pulls_back(old, "again")


def test_a_push_that_retags_before_the_delete_keeps_the_artifact(project, monkeypatch):
    old, _new = _old_and_new(project)
    original = runs.plan

    def plan_then_push(**kwargs):
        found = original(**kwargs)
        background = Background(lambda: _push(old, "again"))
        assert background.done.wait(30) and background.result == 201
        return found

    monkeypatch.setattr(runs, "plan", plan_then_push)
    results = _run(project)
    assert (results["deleted"], results["kept_meanwhile"]) == (0, 1)
    _pulls_back(old, "old")
    _pulls_back(old, "again")


def test_a_push_sharing_a_layer_with_what_retention_deletes_is_counted_once(project):
    """Retention has removed the old artifact's references, not yet locked the project's
    quota row: a push over the same layer lands meanwhile (on PostgreSQL without waiting
    for the delete), and the quota counts the layer once (quotas.usage's notes)."""
    old, new = _old_and_new(project)
    again = {**_image(), "layers": old["layers"]}
    pushes: list[Background] = []

    def push_meanwhile() -> None:
        pushes.append(Background(lambda: _push(again, "again")))
        pushes[0].in_time = pushes[0].done.wait(2.0)

    with at_statement('DELETE FROM "artifact_blob"', push_meanwhile):
        results = _run(project)
    assert pushes[0].done.wait(60) and pushes[0].result == 201
    if connection.vendor == "postgresql":  # SQLite: the push waits for the write lock
        assert pushes[0].in_time, "the push waited for the delete"
    assert results["deleted"] == 1
    _pulls_back(again, "again")
    _pulls_back(new, "new")
    used = Quota.objects.get(project=project).used
    assert used == usage.measured(project.pk)
    # the manifests, configs and layers of `again` and `new`, the shared layer once
    blobs = {
        d["digest"]: d["size"] for doc in (again, new) for d in [doc["config"], *doc["layers"]]
    }
    assert used == sum(blobs.values()) + sum(len(json.dumps(doc)) for doc in (again, new))
