"""Whole replication runs against the real local distribution and an in-memory remote:
pull-based (recorded in the database), push-based with flattening, override, filters,
event-based on push and on delete, and the execution's tasks and logs."""

from __future__ import annotations

import hashlib
import json
import os

import pytest
from django.test import TestCase

from harbor_py.core.actor import Actor
from jobs import runner
from jobs.models import Execution, Status, Task, Trigger
from projects.roles import Role
from registry import deletion, upstream
from registry import services as registry_services
from registry.models import Artifact, Tag
from replication import copier, runs, selectors, services
from replication.adapters.base import open_adapter
from replication.adapters.docker_registry import DockerRegistryAdapter
from replication.models import RegistryEndpoint, ReplicationPolicy
from tests.distribution import push_image, put_manifest, stored_manifest, upload_blob
from tests.fake_registry import FakeRegistry
from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]


@pytest.fixture
def remote(monkeypatch):
    fake = FakeRegistry()
    monkeypatch.setattr(
        runs, "open_adapter", lambda endpoint: open_adapter(endpoint, fake.transport())
    )
    endpoint = RegistryEndpoint(name="fake", type="docker-registry", url="http://fake")
    endpoint.access_key, endpoint.access_secret = fake.credentials
    endpoint.save()
    return fake, endpoint


def _policy(**values) -> ReplicationPolicy:
    return services.create_policy(values={"name": "p", **values}, actor=Actor(username="admin"))


def _run(policy: ReplicationPolicy, **kwargs) -> Execution:
    kwargs.setdefault("actor", Actor.system("test"))
    execution = services.start(policy=policy, **kwargs)
    # what the worker does (already done, eagerly, when the test does not hold a transaction)
    runner.run(execution.tasks.order_by("pk").first().pk)
    return selectors.execution(execution.pk)


def _remote_image(fake: FakeRegistry, repository: str, tags: list[str]) -> str:
    layers = [os.urandom(70_000), os.urandom(5_000)]
    config = b'{"architecture":"arm64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": fake.add_blob(repository, config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": OCI_LAYER_GZIP, "digest": fake.add_blob(repository, d), "size": len(d)}
            for d in layers
        ],
    }
    return fake.add_manifest(repository, tags, doc, OCI_MANIFEST)


def test_pull_based_records_artifacts(distribution, remote, admin, monkeypatch):
    fake, endpoint = remote
    fake.manifests["lib/skip"] = {}
    digest = _remote_image(fake, "lib/app", ["v1", "latest"])
    _remote_image(fake, "lib/app", ["dev"])
    fake_catalog = ["lib/app", "lib/skip"]
    monkey_tags = {"lib/app": ["v1", "latest", "dev"], "lib/skip": []}
    monkeypatch.setattr(DockerRegistryAdapter, "repositories", lambda self: fake_catalog)
    monkeypatch.setattr(DockerRegistryAdapter, "tags", lambda self, repo: monkey_tags[repo])
    policy = _policy(
        src_registry=endpoint,
        filters=[{"type": "name", "value": "lib/*"}, {"type": "tag", "value": "{v*,latest}"}],
    )
    execution = _run(policy)
    assert execution.status == Status.SUCCESS, execution.status_message
    assert (execution.n_total, execution.n_succeed) == (1, 1)
    artifact = Artifact.objects.get(repository__name="lib/app")
    assert artifact.digest == digest
    assert sorted(artifact.tags.values_list("name", flat=True)) == ["latest", "v1"]
    assert artifact.repository.project.owner == admin  # the project was created
    for blob in fake.blobs["lib/app"]:
        head = upstream.request("HEAD", "lib/app", f"/v2/lib/app/blobs/{blob}", frozenset({"pull"}))
        assert head.status_code == 200 or blob not in artifact.blobs.values_list(
            "digest", flat=True
        )
    assert artifact.blobs.count() == 4  # config, two layers and the manifest
    task = selectors.tasks(execution).get()
    assert task.status == Status.SUCCESS and "put as latest, v1" in task.log
    assert "retrying" not in task.log, task.log
    assert task.extra_attrs["dst_resource"] == "lib/app:[latest,v1]"


def test_push_based_flattening_override_and_events(
    distribution, remote, make_user, make_project, django_capture_on_commit_callbacks
):
    fake, endpoint = remote
    alice = make_user("alice")
    make_project("team", members={alice: Role.DEVELOPER})
    digest = push_image("alice", "team/sub/app", "v1", layers=3)
    policy = _policy(
        dest_registry=endpoint, dest_namespace="mirror", dest_namespace_replace_count=-1
    )
    execution = _run(policy)
    assert execution.status == Status.SUCCESS, execution.status_message
    body = fake.manifests["mirror/app"]["v1"][0]
    assert fake.manifests["mirror/app"][digest][0] == body
    assert len(fake.blobs["mirror/app"]) == 4

    # override off: an existing tag is left alone
    fake.manifests["mirror/app"]["v1"] = (b"{}", OCI_MANIFEST)
    policy = services.update_policy(
        policy=policy, values={"override": False}, actor=Actor(username="admin")
    )
    execution = _run(policy)
    assert execution.status == Status.SUCCESS
    assert fake.manifests["mirror/app"]["v1"][0] == b"{}"
    assert "override is off" in selectors.tasks(execution).get().log

    # event based: a push replicates that artifact, a delete deletes it at the destination
    services.update_policy(
        policy=policy,
        values={"override": True, "trigger_type": "event_based", "replicate_deletion": True},
        actor=Actor(username="admin"),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        pushed = push_image("alice", "team/sub/app", "v2", layers=1)
    assert fake.manifests["mirror/app"]["v2"][0] == fake.manifests["mirror/app"][pushed][0]
    event_run = Execution.objects.filter(trigger=Trigger.EVENT).latest("pk")
    assert event_run.status == Status.SUCCESS and event_run.parameters["event"]["tags"] == ["v2"]

    with TestCase.captureOnCommitCallbacks(execute=True):
        deletion.delete_artifact(
            artifact=Artifact.objects.get(digest=pushed), actor=Actor(username="alice")
        )
    assert pushed not in fake.manifests["mirror/app"]
    assert Tag.objects.filter(name="v1").exists()


def test_failed_artifacts_fail_the_execution(distribution, remote, monkeypatch, admin):
    fake, endpoint = remote
    digest = _remote_image(fake, "lib/app", ["v1"])
    blobs = fake.blobs["lib/app"]
    fake.corrupt.add(next(d for d in blobs if len(blobs[d]) == 70_000))  # a fresh layer
    monkeypatch.setattr(copier, "BACKOFF_SECONDS", 0.0)
    monkeypatch.setattr(DockerRegistryAdapter, "repositories", lambda self: ["lib/app"])
    monkeypatch.setattr(DockerRegistryAdapter, "tags", lambda self, repo: ["v1"])
    execution = _run(_policy(src_registry=endpoint))
    assert execution.status == Status.ERROR and "1 of 1" in execution.status_message
    task = selectors.tasks(execution).get()
    assert task.status == Status.ERROR and "does not match" in task.log
    assert not Artifact.objects.filter(digest=digest).exists()


def test_stop_between_artifacts(distribution, remote, make_user, make_project, monkeypatch):
    _, endpoint = remote
    alice = make_user("alice")
    make_project("team", members={alice: Role.DEVELOPER})
    push_image("alice", "team/one", "v1", layers=1)
    push_image("alice", "team/two", "v1", layers=1)
    original = copier.Copier.manifest

    def manifest_then_stop(self, *args, **kwargs):
        original(self, *args, **kwargs)
        Execution.objects.update(stop_requested=True)

    monkeypatch.setattr(copier.Copier, "manifest", manifest_then_stop)
    execution = _run(_policy(dest_registry=endpoint))
    assert execution.status == Status.STOPPED
    assert (execution.n_total, execution.n_succeed, execution.n_stopped) == (2, 1, 1)


def test_scheduled_tick_starts_a_run(remote, monkeypatch):
    from replication import tasks

    _, endpoint = remote
    policy = _policy(
        dest_registry=endpoint,
        trigger_type="scheduled",
        cron="0 */5 * * * *",
        single_active_replication=True,
    )
    assert policy.periodic_task.crontab.minute == "*/5"
    tasks.run_scheduled_policy(policy.pk)
    execution = Execution.objects.get(vendor_id=policy.pk)
    assert execution.trigger == Trigger.SCHEDULE
    tasks.run_scheduled_policy(policy.pk)  # still pending: this tick is skipped
    skipped = Execution.objects.filter(vendor_id=policy.pk).exclude(pk=execution.pk).get()
    assert (skipped.status, skipped.trigger) == (Status.SKIPPED, Trigger.SCHEDULE)


@pytest.mark.django_db(transaction=True)
def test_artifacts_in_parallel_outside_a_transaction(distribution, remote, make_user, make_project):
    fake, endpoint = remote
    alice = make_user("alice")
    make_project("team", members={alice: Role.DEVELOPER})
    digests = {f"team/app{i}": push_image("alice", f"team/app{i}", "v1") for i in range(5)}
    execution = _run(_policy(dest_registry=endpoint))
    assert execution.status == Status.SUCCESS, execution.status_message
    assert (execution.n_total, execution.n_succeed) == (5, 5)
    for repository, digest in digests.items():
        assert fake.manifests[repository]["v1"][0] == fake.manifests[repository][digest][0]
    assert all("put as v1" in t.log for t in selectors.tasks(execution))


def _signature(repository: str, subject: str) -> str:
    """An OCI 1.1 accessory (a cosign-like signature) of `subject`, untagged."""
    data = os.urandom(300)
    size = int(stored_manifest(repository, subject).headers["Content-Length"])
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.empty.v1+json",
            "digest": upload_blob(repository, b"{}"),
            "size": 2,
        },
        "layers": [
            {
                "mediaType": "application/vnd.dev.cosign.simplesigning.v1+json",
                "digest": upload_blob(repository, data),
                "size": len(data),
            }
        ],
        "subject": {"mediaType": OCI_MANIFEST, "digest": subject, "size": size},
    }
    digest = "sha256:" + hashlib.sha256(json.dumps(doc).encode()).hexdigest()
    response = put_manifest("alice", repository, digest, doc, OCI_MANIFEST)
    assert response.status_code == 201, response.content
    return digest


def test_accessories_follow_and_a_rerun_compares_by_listing(
    distribution, remote, make_user, make_project, monkeypatch
):
    fake, endpoint = remote
    alice = make_user("alice")
    make_project("team", members={alice: Role.DEVELOPER})
    digest = push_image("alice", "team/app", "v1", layers=1)
    signature = _signature("team/app", digest)
    execution = _run(_policy(dest_registry=endpoint))
    assert execution.status == Status.SUCCESS, execution.status_message
    assert execution.n_total == 1  # the signature is no artifact of its own
    assert signature in fake.manifests["team/app"] and "v1" in fake.manifests["team/app"]
    assert f"accessory {signature}" in selectors.tasks(execution).get().log

    # a re-run lists the destination once (tags/list, a HEAD per tag and per accessory
    # digest on a plain registry) and copies nothing
    monkeypatch.setattr(DockerRegistryAdapter, "tags", lambda self, repo: ["v1"])
    before = dict(fake.calls)
    execution = _run(ReplicationPolicy.objects.get())
    assert execution.status == Status.SUCCESS and execution.n_succeed == 1
    assert "already at the destination" in selectors.tasks(execution).get().log
    spent = {k: v - before.get(k, 0) for k, v in fake.calls.items() if v != before.get(k, 0)}
    assert spent.pop("token") == 1  # a new run, a new client
    assert spent == {"HEAD manifests": 2}, spent

    # tag deletions cannot be replicated to a plain registry: a clear failed task
    services.update_policy(
        policy=ReplicationPolicy.objects.get(),
        values={"trigger_type": "event_based", "replicate_deletion": True},
        actor=Actor(username="admin"),
    )
    with TestCase.captureOnCommitCallbacks(execute=True):
        registry_services.delete_tag(tag=Tag.objects.get(name="v1"), actor=Actor(username="alice"))
    event_run = Execution.objects.filter(trigger=Trigger.EVENT).latest("pk")
    assert event_run.parameters["event"]["operation"] == "delete_tag"
    task = selectors.tasks(event_run).get()
    assert task.status == Status.ERROR
    assert "tag deletion isn't supported" in task.status_message
    assert task.extra_attrs["resource_type"] == "tag"


def test_artifact_tasks_are_never_resumed_as_orphans():
    """jobs.tasks.resume_orphaned_tasks enqueues claimed tasks whose lease went stale; a
    replication's per-artifact tasks are run by the replication job itself."""
    from jobs import lease

    execution = Execution.objects.create(vendor_type="REPLICATION", status=Status.RUNNING)
    controller = Task.objects.create(
        execution=execution, status=Status.RUNNING, worker="gone:1", run_count=1
    )
    Task.objects.create(
        execution=execution,
        status=Status.RUNNING,
        run_count=1,
        extra_attrs={"operation": "copy", "resource_type": "image"},
    )
    assert lease.orphaned_task_ids() == [controller.pk]  # no heartbeat: stale


def test_a_tag_scheme_signature_follows_under_its_sig_tag(
    distribution, remote, make_user, make_project
):
    """A cosign tag-scheme signature is linked by its `sha256-<hex>.sig` tag alone: it is
    put under that tag at the destination, or it would arrive unlinked (#23)."""
    from registry.accessories import cosign_tag
    from tests import signing

    fake, endpoint = remote
    alice = make_user("alice")
    make_project("team", members={alice: Role.DEVELOPER})
    digest = push_image("alice", "team/app", "v1", layers=1)
    doc, blobs = signing.cosign_signature(signing.ec_key(), digest)
    for blob in blobs:
        upload_blob("team/app", blob.data)
    response = put_manifest("alice", "team/app", cosign_tag(digest), doc, OCI_MANIFEST)
    assert response.status_code == 201, response.content
    signature = response["Docker-Content-Digest"]
    execution = _run(_policy(dest_registry=endpoint))
    assert execution.status == Status.SUCCESS, execution.status_message
    assert execution.n_total == 1
    stored = fake.manifests["team/app"]
    assert cosign_tag(digest) in stored and stored[cosign_tag(digest)][0] == stored[signature][0]
