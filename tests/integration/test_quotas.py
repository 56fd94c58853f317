"""Storage quotas: usage is the size of the distinct blobs a project references; a push over
the limit is refused with nothing recorded; deletes release; concurrent pushes stay exact;
/quotas and the project's storage_limit follow Harbor's contract."""

from __future__ import annotations

import json
import threading

import pytest
from django.core.management import call_command
from django.db import connection

from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.http import status_of
from projects.models import Project
from quotas import usage
from quotas.models import Quota
from registry import push, services
from registry.manifests import parse_manifest
from registry.models import Artifact, ArtifactBlob, Blob, Repository
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error
from tests.integration.registry_data import OCI_CONFIG, OCI_LAYER, fake_digest

MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def manifest(layers: dict[str, int], config_seed: str = "c") -> bytes:
    doc = {
        "schemaVersion": 2,
        "mediaType": MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": fake_digest(config_seed), "size": 10},
        "layers": [
            {"mediaType": OCI_LAYER, "digest": fake_digest(seed), "size": size}
            for seed, size in layers.items()
        ],
    }
    return json.dumps(doc).encode()


def record(project: Project, repo: str, body: bytes, tag: str | None = "latest") -> Artifact:
    return services.record_manifest_push(
        project=project,
        repository_name=f"{project.name}/{repo}",
        parsed=parse_manifest(body, MANIFEST),
        tag=tag,
        actor=Actor(username="pusher"),
    )


def used(project: Project) -> int:
    return Quota.objects.get(project=project).used


def set_hard(project: Project, hard: int) -> None:
    Quota.objects.update_or_create(project=project, defaults={"hard": hard})


@pytest.mark.django_db
def test_usage_counts_each_distinct_blob_once(make_project):
    project = make_project("p")
    first = manifest({"shared": 1000, "a": 2000})
    second = manifest({"shared": 1000, "b": 300}, config_seed="c2")
    record(project, "one", first)
    record(project, "two", second)
    record(project, "one", first, tag="again")  # the same artifact again adds nothing
    expected = 1000 + 2000 + 300 + 10 + 10 + len(first) + len(second)
    assert used(project) == expected == usage.measured(project.pk)


@pytest.mark.django_db
def test_push_over_the_limit_is_refused_and_records_nothing(make_project):
    project = make_project("p")
    record(project, "app", manifest({"a": 1000}))
    before = used(project)
    set_hard(project, before + 500)
    with pytest.raises(usage.QuotaExceeded) as refused:
        record(project, "other", manifest({"b": 1024 * 1024}, config_seed="c2"))
    message = refused.value.message
    assert message.startswith("Quota exceeded when processing the request of adding 1.0 MiB")
    assert "will exceed the configured upper limit of" in message
    assert status_of(refused.value) == 403 and refused.value.code == "DENIED"
    assert used(project) == before
    assert not Repository.objects.filter(name="p/other").exists()
    # A push that adds nothing new (a new tag on stored blobs) is still allowed.
    record(project, "app", manifest({"a": 1000}), tag="v2")


@pytest.mark.django_db
def test_limit_not_enforced_when_quotas_are_disabled(make_project):
    project = make_project("p")
    record(project, "app", manifest({"a": 1000}))
    set_hard(project, 1)
    configuration.store({"quota_per_project_enable": False})
    record(project, "app", manifest({"b": 5000}, config_seed="c2"), tag="big")
    assert used(project) == usage.measured(project.pk)


@pytest.mark.django_db
def test_deletes_release_usage_but_shared_blobs_stay_counted(make_project):
    project = make_project("p")
    one = record(project, "one", manifest({"shared": 1000, "a": 2000}))
    two = record(project, "two", manifest({"shared": 1000, "b": 300}, config_seed="c2"))
    services.delete_artifacts(root=one, artifacts=[one], actor=Actor(username="u"))
    assert used(project) == usage.measured(project.pk)
    assert used(project) >= 1000 + 300
    services.delete_repository(repository=two.repository, actor=Actor(username="u"))
    assert used(project) == 0


def _references_read() -> int:
    """Rows of artifact_blob this transaction read so far (PostgreSQL's statistics)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT COALESCE(seq_tup_read, 0) + COALESCE(idx_tup_fetch, 0) "
            "FROM pg_stat_xact_user_tables WHERE relname = 'artifact_blob'"
        )
        return cursor.fetchone()[0]


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL's statistics")
def test_a_delete_accounts_for_its_own_blobs_not_the_whole_project(make_project):
    """A retention run deletes thousands of artifacts of one project while pushes into it
    wait for its quota row: under that lock a delete reads the references of the blobs it
    deleted, not every reference of the project (docs/retention.md, "Scale"); the usage
    stays exact, a layer other artifacts share still counted."""
    project = make_project("p")
    body = manifest({"base": 5000, "own": 700})
    doomed = record(project, "app", body, tag="old")
    kept = record(project, "app", manifest({"base": 5000, "mine": 90}, config_seed="c2"))
    base = Blob.objects.get(digest=fake_digest("base"))
    filler = Artifact.objects.bulk_create(
        Artifact(repository=kept.repository, digest=fake_digest(f"f{i}"), media_type=OCI_CONFIG)
        for i in range(1500)
    )
    ArtifactBlob.objects.bulk_create(ArtifactBlob(artifact=a, blob=base) for a in filler)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE artifact_blob")
    before, read = used(project), _references_read()
    services.delete_artifacts(root=doomed, artifacts=[doomed], actor=Actor(username="u"))
    assert _references_read() - read < 100  # the project has 1,500 more
    assert used(project) == usage.measured(project.pk)
    assert before - used(project) == 700 + 10 + len(body)  # its layer, config, manifest


@pytest.mark.django_db
def test_release_after_a_refused_put_gives_the_usage_back(make_project):
    project = make_project("p")
    parsed = parse_manifest(manifest({"a": 4000}), MANIFEST)
    reservation = push.reserve(project=project, repository_name="p/app", parsed=parsed)
    assert used(project) > 4000
    push.release(reservation)
    assert used(project) == 0


@pytest.mark.django_db
def test_recalculation_command_fixes_drift(make_project):
    project = make_project("p")
    record(project, "app", manifest({"a": 1000}))
    right = used(project)
    Quota.objects.filter(project=project).update(used=12345678)
    call_command("quota_recalculate")
    assert used(project) == right


def _push_in_thread(project_id: int, repo: str, body: bytes, errors: list, ok: list) -> None:
    try:
        project = Project.objects.get(pk=project_id)
        record(project, repo, body)
        ok.append(repo)
    except usage.QuotaExceeded as exc:
        errors.append(exc)
    finally:
        connection.close()


def _run_concurrently(project: Project, bodies: dict[str, bytes]) -> tuple[list, list]:
    errors: list = []
    ok: list = []
    threads = [
        threading.Thread(target=_push_in_thread, args=(project.pk, repo, body, errors, ok))
        for repo, body in bodies.items()
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return errors, ok


@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_sharing_layers_keep_usage_exact(make_project):
    project = make_project("p")
    bodies = {
        f"r{i}": manifest({"base": 50_000, "mid": 7000, f"own{i}": 100 + i}, config_seed=f"c{i}")
        for i in range(8)
    }
    errors, ok = _run_concurrently(project, bodies)
    assert not errors and len(ok) == 8
    assert used(project) == usage.measured(project.pk)
    own = sum(100 + i for i in range(8)) + 8 * 10 + sum(len(b) for b in bodies.values())
    assert used(project) == 50_000 + 7000 + own


@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_never_overshoot_the_limit(make_project):
    project = make_project("p")
    set_hard(project, 3 * 10_000 + 3 * 2000)  # room for three of the images below
    bodies = {f"r{i}": manifest({f"layer{i}": 10_000}, config_seed=f"c{i}") for i in range(8)}
    errors, ok = _run_concurrently(project, bodies)
    assert len(ok) == 3 and len(errors) == 5
    assert used(project) == usage.measured(project.pk) <= 3 * 10_000 + 3 * 2000


# --- API -----------------------------------------------------------------------------------


@pytest.fixture
def admin_client(admin, client_for):
    return client_for(admin)


@pytest.mark.django_db
def test_project_storage_limit_on_create_and_update(admin_client, make_user, client_for):
    response = admin_client.post(
        "/api/v2.0/projects", {"project_name": "lim", "storage_limit": 1000}, format="json"
    )
    assert response.status_code == 201
    assert Quota.objects.get(project__name="lim").hard == 1000
    assert (
        admin_client.put(
            "/api/v2.0/projects/lim", {"storage_limit": 2000}, format="json"
        ).status_code
        == 200
    )
    assert Quota.objects.get(project__name="lim").hard == 2000
    configuration.store({"storage_per_project": 777})
    user = client_for(make_user())
    created = user.post(
        "/api/v2.0/projects", {"project_name": "mine", "storage_limit": 5}, format="json"
    )
    assert created.status_code == 201
    assert Quota.objects.get(project__name="mine").hard == 777  # only sysadmins choose
    bad = admin_client.post(
        "/api/v2.0/projects", {"project_name": "bad", "storage_limit": -5}, format="json"
    )
    assert_harbor_error(bad, 400)
    assert not Project.objects.filter(name="bad").exists()


@pytest.mark.django_db
def test_quota_api(admin_client, make_project, make_user, client_for):
    member, outsider = make_user(), make_user()
    project = make_project("p", members={member: 3})
    make_project("q")
    record(project, "app", manifest({"a": 1000}))
    listed = admin_client.get("/api/v2.0/quotas", {"reference": "project"})
    assert_matches("listQuotas", listed, 200)
    assert listed["X-Total-Count"] == "2"
    one = admin_client.get("/api/v2.0/quotas", {"reference_id": project.pk}).json()
    assert [q["ref"]["name"] for q in one] == ["p"]
    assert one[0]["used"]["storage"] == usage.measured(project.pk)
    assert one[0]["hard"] == {"storage": -1}
    quota_id = one[0]["id"]
    shown = client_for(member).get(f"/api/v2.0/quotas/{quota_id}")
    assert_matches("getQuota", shown, 200)
    assert_harbor_error(client_for(outsider).get(f"/api/v2.0/quotas/{quota_id}"), 404)
    assert_harbor_error(client_for(member).get("/api/v2.0/quotas"), 403)
    refused = client_for(member).put(
        f"/api/v2.0/quotas/{quota_id}", {"hard": {"storage": 5}}, format="json"
    )
    assert_harbor_error(refused, 403)
    for body in ({"hard": {"storage": -3}}, {"hard": {"count": 3}}, {"hard": 5}):
        bad = admin_client.put(f"/api/v2.0/quotas/{quota_id}", body, format="json")
        assert_harbor_error(bad, 400)
    assert Quota.objects.get(pk=quota_id).hard == -1
    changed = admin_client.put(
        f"/api/v2.0/quotas/{quota_id}", {"hard": {"storage": 4096}}, format="json"
    )
    assert changed.status_code == 200
    assert Quota.objects.get(pk=quota_id).hard == 4096
    summary = client_for(member).get("/api/v2.0/projects/p/summary")
    assert_matches("getProjectSummary", summary, 200)
    assert summary.json()["quota"] == {
        "hard": {"storage": 4096},
        "used": {"storage": usage.measured(project.pk)},
    }


def _fill(project: Project, artifacts: int) -> None:
    """`artifacts` artifacts, each in its own repository with one blob of its own."""
    repos = Repository.objects.bulk_create(
        Repository(project=project, name=f"{project.name}/r{k}") for k in range(artifacts)
    )
    blobs = Blob.objects.bulk_create(
        Blob(digest=fake_digest(f"{project.name}-{k}"), size=1) for k in range(artifacts)
    )
    rows = Artifact.objects.bulk_create(
        Artifact(repository=repo, digest=fake_digest(f"{repo.name}-m"), size=1) for repo in repos
    )
    ArtifactBlob.objects.bulk_create(
        ArtifactBlob(artifact=a, blob=b) for a, b in zip(rows, blobs, strict=True)
    )


def _blocks_to_charge(project: Project, blob: Blob) -> int:
    """Buffer blocks PostgreSQL touches to price a push of `blob` into `project`."""
    sql = "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + usage.new_size_sql(1)
    with connection.cursor() as cursor:
        for _ in range(2):  # the second run: the first also sets hint bits
            cursor.execute(sql, [blob.pk, blob.size, project.pk])
            plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    top = plan[0]["Plan"]
    return top["Shared Hit Blocks"] + top["Shared Read Blocks"]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="reads PostgreSQL's plan")
@pytest.mark.django_db
def test_pricing_a_push_reads_the_pushed_blobs_references_not_the_projects(make_project):
    # Tables without statistics, as in a new database: the plan must still start from the
    # pushed blob's own references, whatever the size of the project.
    small, large = make_project("small"), make_project("large")
    _fill(small, 5)
    _fill(large, 400)
    new_blob = Blob.objects.create(digest=fake_digest("new"), size=7)
    assert _blocks_to_charge(large, new_blob) <= _blocks_to_charge(small, new_blob) + 2
