"""Replication faults between two running instances (the session `stack` is the source):
a destination that goes away mid-copy, a Celery worker killed with SIGKILL mid-task, a
source artifact deleted between listing and copying, bad credentials, and a destination
account that may not push. Each ends in a clear status and task log, a re-run finishes
what is left, and no tag at the destination ever names an incomplete artifact."""

from __future__ import annotations

import os
import signal
import time
import uuid
from pathlib import Path

import psycopg
import pytest

from tests.e2e.replication_support import (
    ADMIN,
    API,
    REPLICATION,
    artifact_tags,
    assert_identical,
    create_endpoint,
    create_policy,
    replicate,
    start,
    supervisorctl,
    tasks,
    update_policy,
    wait,
    wait_healthy,
    wait_until,
    worker_pool_pids,
)
from tests.imagegen import ImageLayout, make_image
from tests.stack import ADMIN_PASSWORD, PG_DSN, Instance, skopeo

MIB = 1 << 20


pytestmark = REPLICATION  # `second` starts once for this module and test_replication


@pytest.fixture(scope="module")
def to_second(stack: Instance, second: Instance) -> int:
    return create_endpoint(stack, second.url, f"second-{uuid.uuid4().hex[:6]}")


def _project(stack: Instance) -> str:
    name = f"f{uuid.uuid4().hex[:8]}"
    stack.create_project(name)
    return name


def _push(stack: Instance, tmp: Path, project: str, names: list[str], sizes: list[int]):
    images = {}
    for name in names:
        image = make_image(tmp / name, layer_sizes=sizes)
        skopeo("copy", image.ref, f"docker://{stack.host}/{project}/{name}:v1", creds=ADMIN)
        images[name] = image
    return images


def _policy(stack: Instance, endpoint: int, project: str, **extra) -> int:
    body = {
        "name": f"{project}-{uuid.uuid4().hex[:4]}",
        "dest_registry": {"id": endpoint},
        "filters": [{"type": "name", "value": f"{project}/**"}],
        "trigger": {"type": "manual"},
        **extra,
    }
    return create_policy(stack, body)


def _running_task(stack: Instance, location: str) -> None:
    def started() -> bool:
        return any(
            t["status"] == "InProgress" and t["start_time"][:4] != "0001"
            for t in tasks(stack, location)
        )

    wait_until(started, 60, "a task to start copying")


def _upload_in_flight(second: Instance, project: str) -> None:
    """Wait until the destination's distribution is receiving a layer of `project`, so that
    an outage starting now is sure to break a request rather than fall between two."""
    repositories = second.data_dir / "registry" / "docker" / "registry" / "v2" / "repositories"

    def receiving() -> bool:
        return any(
            data.stat().st_size > 0
            for data in (repositories / project).glob("*/_uploads/*/data")
            if data.exists()
        )

    wait_until(receiving, 60, "the destination to receive a layer")


def _assert_complete_or_absent(
    second: Instance, project: str, images: dict[str, ImageLayout], tmp: Path
) -> None:
    """Every tag at the destination names the whole image: it pulls bit for bit."""
    tmp.mkdir(parents=True, exist_ok=True)
    for name, image in images.items():
        tags = artifact_tags(second, project, name)
        assert set(tags) <= {image.manifest_digest}, tags
        if tags:
            assert_identical(second.host, f"{project}/{name}:v1", image, tmp / f"check-{name}")


def test_destination_gone_mid_copy_then_back(stack, second, to_second, tmp_path):
    project = _project(stack)
    images = _push(stack, tmp_path, project, ["a", "b", "c"], [3 * MIB, 100_000])
    policy = _policy(stack, to_second, project, speed=768)
    location = start(stack, policy)
    _running_task(stack, location)
    _upload_in_flight(second, project)
    supervisorctl(second, "stop", "nginx")
    try:
        time.sleep(12)  # longer than a step's retries (1 + 2 + 4 s)
    finally:
        supervisorctl(second, "start", "nginx")
    wait_healthy(second)
    found = wait(stack, location)
    assert found["status"] == "Failed", found
    assert "artifacts failed" in found["status_text"]
    failed = [t for t in tasks(stack, location) if t["status"] == "Failed"]
    assert failed and all("unreachable" in t["log"] for t in failed), failed
    assert all("retrying" in t["log"] for t in failed)
    _assert_complete_or_absent(second, project, images, tmp_path)

    update_policy(stack, policy, {"speed": 0})
    found = replicate(stack, policy)
    assert found["succeed"] == 3
    _assert_complete_or_absent(second, project, images, tmp_path / "after")
    for name, image in images.items():
        assert artifact_tags(second, project, name) == {image.manifest_digest: ["v1"]}


def test_short_outage_is_absorbed_by_the_retries(stack, second, to_second, tmp_path):
    project = _project(stack)
    images = _push(stack, tmp_path, project, ["a", "b"], [4 * MIB, 10_000])
    policy = _policy(stack, to_second, project, speed=512)
    location = start(stack, policy)
    _running_task(stack, location)
    _upload_in_flight(second, project)
    supervisorctl(second, "stop", "nginx")
    try:
        time.sleep(2)  # shorter than a step's retries
    finally:
        supervisorctl(second, "start", "nginx")
    found = wait(stack, location)
    logs = [t["log"] for t in tasks(stack, location)]
    assert found["status"] == "Succeed", (found, logs)
    assert any("retrying" in log for log in logs), logs
    _assert_complete_or_absent(second, project, images, tmp_path)
    for name, image in images.items():
        assert artifact_tags(second, project, name) == {image.manifest_digest: ["v1"]}


def _controller_run_count(instance: Instance, execution_id: int) -> int:
    dsn = PG_DSN.rsplit("/", 1)[0] + f"/{instance.db_name}"
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        cursor.execute(
            "SELECT run_count FROM task WHERE execution_id = %s"
            " AND extra_attrs->>'kind' = 'controller'",
            [execution_id],
        )
        return cursor.fetchone()[0]


def test_worker_killed_mid_task_is_retried_to_success(stack, second, to_second, tmp_path):
    project = _project(stack)
    images = _push(stack, tmp_path, project, ["big1", "big2"], [4 * MIB, 50_000])
    policy = _policy(stack, to_second, project, speed=512)
    location = start(stack, policy)
    _running_task(stack, location)
    time.sleep(1.5)
    killed = worker_pool_pids(stack)
    assert killed
    for pid in killed:
        os.kill(pid, signal.SIGKILL)
    found = wait(stack, location, timeout=300)
    assert found["status"] == "Succeed", (found, [t["log"] for t in tasks(stack, location)])
    assert found["succeed"] == 2
    assert _controller_run_count(stack, found["id"]) == 2  # redelivered once, then done
    assert not set(killed) & set(worker_pool_pids(stack))
    for name, image in images.items():
        assert artifact_tags(second, project, name) == {image.manifest_digest: ["v1"]}
        assert_identical(second.host, f"{project}/{name}:v1", image, tmp_path / f"out-{name}")


def test_source_artifact_deleted_between_listing_and_copying(stack, second, to_second, tmp_path):
    project = _project(stack)
    names = ["a", "b", "c", "zz-doomed"]  # listed in name order: the last waits its turn
    images = _push(stack, tmp_path, project, names, [2 * MIB, 10_000])
    policy = _policy(stack, to_second, project, speed=512)
    location = start(stack, policy)
    wait_until(lambda: len(tasks(stack, location)) == 4, 60, "the listing")
    with stack.client() as api:
        response = api.delete(f"{API}/projects/{project}/repositories/zz-doomed/artifacts/v1")
    assert response.status_code == 200, response.text
    found = wait(stack, location)
    assert found["status"] == "Failed" and (found["succeed"], found["failed"]) == (3, 1), [
        (t["src_resource"], t["start_time"], t["end_time"], t["log"])
        for t in tasks(stack, location)
    ]
    (doomed,) = [t for t in tasks(stack, location) if t["status"] == "Failed"]
    assert doomed["src_resource"].startswith(f"{project}/zz-doomed")
    assert "deleted after it was listed" in doomed["log"]
    assert artifact_tags(second, project, "zz-doomed") == {}

    found = replicate(stack, policy)  # the re-run lists what is there now
    assert (found["total"], found["succeed"]) == (3, 3)
    del images["zz-doomed"]
    _assert_complete_or_absent(second, project, images, tmp_path)


def test_bad_credentials_then_fixed(stack, second, tmp_path):
    project = _project(stack)
    images = _push(stack, tmp_path, project, ["app"], [200_000])
    wrong = create_endpoint(
        stack, second.url, f"wrong-{project}", credentials=("admin", "not-the-password")
    )
    policy = _policy(stack, wrong, project)
    location = start(stack, policy)
    found = wait(stack, location)
    assert found["status"] == "Failed", found
    (task,) = tasks(stack, location)
    assert task["status"] == "Failed"
    assert "unauthorized (HTTP 401): check the registry endpoint's credentials" in task["log"]
    assert artifact_tags(second, project, "app") == {}

    # pull-based with the same wrong credentials: the listing itself is refused
    back = create_endpoint(
        second, stack.url, f"wrong-back-{project}", credentials=("admin", "nope")
    )
    pull = create_policy(
        second,
        {
            "name": f"pull-{project}",
            "src_registry": {"id": back},
            "dest_namespace": f"{project}-pulled",
            "filters": [{"type": "name", "value": f"{project}/**"}],
        },
    )
    found = wait(second, start(second, pull))
    assert found["status"] == "Failed" and "HTTP 401" in found["status_text"], found

    with stack.client() as api:
        response = api.put(f"{API}/registries/{wrong}", json={"access_secret": ADMIN_PASSWORD})
    assert response.status_code == 200, response.text
    assert replicate(stack, policy)["succeed"] == 1
    assert_identical(second.host, f"{project}/app:v1", images["app"], tmp_path / "out")


def test_destination_account_may_not_push(stack, second, tmp_path):
    project = _project(stack)
    images = _push(stack, tmp_path, project, ["app"], [300_000, 1000])
    user = f"u{uuid.uuid4().hex[:8]}"
    second.create_user(user, "Passw0rd!x")
    second.create_project(project)
    second.add_member(project, user, 3)  # guest: may pull, may not push
    endpoint = create_endpoint(
        stack, second.url, f"limited-{project}", credentials=(user, "Passw0rd!x")
    )
    policy = _policy(stack, endpoint, project)
    location = start(stack, policy)
    found = wait(stack, location)
    assert found["status"] == "Failed", found
    (task,) = tasks(stack, location)
    assert "denied (HTTP 40" in task["log"], task["log"]
    assert "the registry endpoint's account may not do this here" in task["log"]
    assert "retrying" not in task["log"]  # a refusal is not retried
    assert artifact_tags(second, project, "app") == {}

    with second.client() as api:
        members = api.get(f"{API}/projects/{project}/members", params={"entityname": user})
        member_id = members.json()[0]["id"]
        response = api.put(f"{API}/projects/{project}/members/{member_id}", json={"role_id": 2})
    assert response.status_code == 200, response.text
    assert replicate(stack, policy)["succeed"] == 1
    assert_identical(second.host, f"{project}/app:v1", images["app"], tmp_path / "out")
