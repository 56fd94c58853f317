"""Replication between two running instances: push-based from the session `stack` to a
second instance, and pull-based back into a new project, with the images compared bit by
bit after a skopeo pull and checked in the destination's API."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.contract import assert_matches
from tests.imagegen import ImageLayout, layout_blobs, make_image
from tests.stack import ADMIN_PASSWORD, Instance, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def second(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("second")) as instance:
        yield instance


def _endpoint(on: Instance, to: Instance, name: str) -> int:
    body = {
        "name": name,
        "type": "harbor",
        "url": to.url,
        "insecure": True,
        "credential": {"type": "basic", "access_key": "admin", "access_secret": ADMIN_PASSWORD},
    }
    with on.client() as api:
        ping = api.post(
            "/api/v2.0/registries/ping",
            json={k: body[k] for k in ("type", "url")}
            | {"access_key": "admin", "access_secret": ADMIN_PASSWORD},
        )
        assert ping.status_code == 200, ping.text
        response = api.post("/api/v2.0/registries", json=body)
        assert response.status_code == 201, response.text
        return int(response.headers["Location"].rsplit("/", 1)[1])


def _replicate(on: Instance, policy: dict) -> dict:
    with on.client() as api:
        response = api.post("/api/v2.0/replication/policies", json=policy)
        assert response.status_code == 201, response.text
        policy_id = int(response.headers["Location"].rsplit("/", 1)[1])
        response = api.post("/api/v2.0/replication/executions", json={"policy_id": policy_id})
        assert response.status_code == 201, response.text
        location = response.headers["Location"].split("/api/v2.0", 1)[1]
        deadline = time.monotonic() + 180
        while True:
            response = api.get(f"/api/v2.0{location}")
            assert_matches("getReplicationExecution", response, 200)
            execution = response.json()
            if execution["status"] != "InProgress" or time.monotonic() > deadline:
                break
            time.sleep(0.5)
        tasks = api.get(f"/api/v2.0{location}/tasks")
        assert_matches("listReplicationTasks", tasks, 200)
        if execution["status"] != "Succeed":
            logs = [api.get(f"/api/v2.0{location}/tasks/{t['id']}/log").text for t in tasks.json()]
            pytest.fail(f"replication {execution}: {logs}")
        return execution


def _assert_identical(instance: Instance, ref: str, image: ImageLayout, out: Path) -> None:
    skopeo("copy", f"docker://{instance.host}/{ref}", f"oci:{out}:x", creds=ADMIN)
    pulled, pushed = layout_blobs(out), layout_blobs(image.path)
    assert pulled.keys() == pushed.keys()
    for digest, data in pushed.items():
        assert pulled[digest] == data, digest


def _artifact_tags(instance: Instance, project: str, repository: str) -> dict[str, list[str]]:
    with instance.client() as api:
        response = api.get(
            f"/api/v2.0/projects/{project}/repositories/{repository}/artifacts",
            params={"with_tag": "true"},
        )
    assert response.status_code == 200, response.text
    return {a["digest"]: sorted(t["name"] for t in a["tags"] or []) for a in response.json()}


def test_push_and_pull_based_replication(stack: Instance, second: Instance, tmp_path: Path):
    project = f"r{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    small = make_image(tmp_path / "small", layer_sizes=[1500])
    big = make_image(tmp_path / "big", layer_sizes=[4 * 1024 * 1024, 300_000, 20, 77_777])
    skopeo("copy", small.ref, f"docker://{stack.host}/{project}/small:v1", creds=ADMIN)
    skopeo("copy", big.ref, f"docker://{stack.host}/{project}/team/big:v1", creds=ADMIN)
    skopeo("copy", big.ref, f"docker://{stack.host}/{project}/team/big:stable", creds=ADMIN)

    # push-based: stack -> second, same names (the project is created there)
    to_second = _endpoint(stack, second, f"second-{project}")
    execution = _replicate(
        stack,
        {
            "name": f"push-{project}",
            "dest_registry": {"id": to_second},
            "filters": [{"type": "name", "value": f"{project}/**"}],
            "trigger": {"type": "manual"},
        },
    )
    assert (execution["total"], execution["succeed"]) == (2, 2)
    _assert_identical(second, f"{project}/team/big:stable", big, tmp_path / "out1")
    _assert_identical(second, f"{project}/small:v1", small, tmp_path / "out2")
    assert _artifact_tags(second, project, "team%252Fbig") == {
        big.manifest_digest: ["stable", "v1"]
    }

    # pull-based: second <- stack, into another namespace, one path level replaced
    from_stack = _endpoint(second, stack, f"stack-{project}")
    pulled = f"{project}-pulled"
    execution = _replicate(
        second,
        {
            "name": f"pull-{project}",
            "src_registry": {"id": from_stack},
            "dest_namespace": pulled,
            "dest_namespace_replace_count": 1,
            "filters": [{"type": "name", "value": f"{project}/**"}, {"type": "tag", "value": "v*"}],
            "trigger": {"type": "manual"},
        },
    )
    assert (execution["total"], execution["succeed"]) == (2, 2)
    _assert_identical(second, f"{pulled}/team/big:v1", big, tmp_path / "out3")
    _assert_identical(second, f"{pulled}/small:v1", small, tmp_path / "out4")
    # only the tag that passed the filter, and the artifacts show in the API
    assert _artifact_tags(second, pulled, "team%252Fbig") == {big.manifest_digest: ["v1"]}
    assert _artifact_tags(second, pulled, "small") == {small.manifest_digest: ["v1"]}
