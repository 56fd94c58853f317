"""What the end-to-end replication tests share: endpoints, policies and runs through the
API, waiting for an execution, bit-for-bit image comparison, and the supervisor of an
instance (to stop its nginx or find its Celery worker)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.contract import assert_matches
from tests.imagegen import ImageLayout, layout_blobs
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
API = "/api/v2.0"
# The modules that use the session fixture `second` (tests/e2e/conftest.py): one xdist
# group, so that one worker runs them and the instance starts once.
REPLICATION = pytest.mark.xdist_group("replication")


def create_endpoint(
    on: Instance,
    url: str,
    name: str,
    *,
    kind: str = "harbor",
    credentials: tuple[str, str] | None = ADMIN,
) -> int:
    body: dict[str, Any] = {"name": name, "type": kind, "url": url, "insecure": True}
    if credentials:
        key, secret = credentials
        body["credential"] = {"type": "basic", "access_key": key, "access_secret": secret}
    with on.client() as api:
        response = api.post(f"{API}/registries", json=body)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def create_policy(on: Instance, body: dict[str, Any]) -> int:
    with on.client() as api:
        response = api.post(f"{API}/replication/policies", json=body)
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def update_policy(on: Instance, policy_id: int, changes: dict[str, Any]) -> None:
    with on.client() as api:
        body = api.get(f"{API}/replication/policies/{policy_id}").json()
        response = api.put(f"{API}/replication/policies/{policy_id}", json={**body, **changes})
    assert response.status_code == 200, response.text


def start(on: Instance, policy_id: int) -> str:
    """Start a run; the execution's path below /api/v2.0."""
    with on.client() as api:
        response = api.post(f"{API}/replication/executions", json={"policy_id": policy_id})
    assert response.status_code == 201, response.text
    return response.headers["Location"].split(API, 1)[1]


def execution(on: Instance, location: str) -> dict[str, Any]:
    with on.client() as api:
        response = api.get(f"{API}{location}")
    assert_matches("getReplicationExecution", response, 200)
    return response.json()


def tasks(on: Instance, location: str) -> list[dict[str, Any]]:
    with on.client() as api:
        response = api.get(f"{API}{location}/tasks", params={"page_size": 100})
        assert_matches("listReplicationTasks", response, 200)
        found = response.json()
        for task in found:
            task["log"] = api.get(f"{API}{location}/tasks/{task['id']}/log").text
    return found


def wait(on: Instance, location: str, timeout: float = 240) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found = execution(on, location)
        if found["status"] != "InProgress":
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"replication still running after {timeout} s: {found}")
        time.sleep(0.5)


def wait_until(condition: Any, timeout: float = 60, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.2)
    return value


def replicate(on: Instance, policy_id: int) -> dict[str, Any]:
    """Run the policy to its end; fail with the task logs unless it succeeded."""
    location = start(on, policy_id)
    found = wait(on, location)
    if found["status"] != "Succeed":
        pytest.fail(f"replication {found}: {[t['log'] for t in tasks(on, location)]}")
    return found


def assert_identical(host: str, ref: str, image: ImageLayout, out: Path, creds=ADMIN) -> None:
    """Pull `ref` from `host` with skopeo: every blob equals the pushed image's."""
    skopeo("copy", f"docker://{host}/{ref}", f"oci:{out}:x", creds=creds)
    pulled, pushed = layout_blobs(out), layout_blobs(image.path)
    assert pulled.keys() == pushed.keys()
    for digest, data in pushed.items():
        assert pulled[digest] == data, digest


def artifact_tags(instance: Instance, project: str, repository: str) -> dict[str, list[str]]:
    """digest -> tags of the artifacts of a repository (Harbor's listing)."""
    with instance.client() as api:
        response = api.get(
            f"{API}/projects/{project}/repositories/{repository}/artifacts",
            params={"with_tag": "true", "page_size": 100},
        )
    if response.status_code == 404:
        return {}
    assert response.status_code == 200, response.text
    return {a["digest"]: sorted(t["name"] for t in a["tags"] or []) for a in response.json()}


def supervisorctl(instance: Instance, *args: str) -> str:
    command = [
        str(Path(sys.executable).parent / "supervisorctl"),
        "-c",
        str(instance.data_dir / "config" / "supervisord.conf"),
        *args,
    ]
    return subprocess.run(command, capture_output=True, text=True, timeout=60).stdout


def worker_pool_pids(instance: Instance) -> list[int]:
    """The prefork pool processes of the instance's Celery worker (they run the tasks)."""
    main = int(supervisorctl(instance, "pid", "worker").strip())
    children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
    return [int(pid) for pid in children]


def wait_healthy(instance: Instance, timeout: float = 60) -> None:
    def healthy() -> bool:
        try:
            return httpx.get(f"{instance.url}/api/v2.0/ping", timeout=5).status_code == 200
        except httpx.HTTPError:
            return False

    wait_until(healthy, timeout, f"{instance.url} to answer")


def start_slow_mirror(front: Instance, speed_kb: int = 256) -> tuple[str, int]:
    """A push-based policy from `ha/seed*` to `mirror` on the instance itself, slowed down by
    its speed limit so that it is still running when something is killed (6 images of
    1 MiB take about 25 s at 256 KB/s). Returns (location, execution id)."""
    registry_id = create_endpoint(front, front.url, "self")
    policy_id = create_policy(
        front,
        {
            "name": "to-mirror",
            "dest_registry": {"id": registry_id},
            "dest_namespace": "mirror",
            "filters": [{"type": "name", "value": "ha/seed*"}],
            "trigger": {"type": "manual"},
            "enabled": True,
            "override": True,
            "speed": speed_kb,
        },
    )
    location = start(front, policy_id)
    return location, int(location.rsplit("/", 1)[1])
