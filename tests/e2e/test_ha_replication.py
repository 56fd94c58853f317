"""High availability by replication (docs/deployment.md): a primary and a standby kept in
step by an event-based push policy. Pushes, tag moves and deletions on the primary reach
the standby within seconds; when the primary is lost, reads fail over to the standby,
which serves every image bit for bit."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.replication_support import create_endpoint, create_policy
from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, running_instance, skopeo

pytestmark = pytest.mark.e2e
ADMIN = ("admin", ADMIN_PASSWORD)
PROJECT = "prod"


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Instance, Instance]]:
    with (
        running_instance(tmp_path / "primary") as primary,
        running_instance(tmp_path / "standby") as standby,
    ):
        yield primary, standby


def _keep_in_step(primary: Instance, standby: Instance) -> None:
    registry_id = create_endpoint(primary, standby.url, "standby")
    create_policy(
        primary,
        {
            "name": "standby",
            "dest_registry": {"id": registry_id},
            "filters": [{"type": "name", "value": f"{PROJECT}/**"}],
            "trigger": {"type": "event_based"},
            "deletion": True,
            "override": True,
            "enabled": True,
        },
    )


def _tags(instance: Instance, repository: str) -> dict[str, str]:
    """tag -> digest, as the instance's API shows them."""
    with instance.client() as api:
        response = api.get(
            f"/api/v2.0/projects/{PROJECT}/repositories/{repository}/artifacts",
            params={"page_size": 100, "with_tag": "true"},
        )
    if response.status_code == 404:
        return {}
    response.raise_for_status()
    return {t["name"]: a["digest"] for a in response.json() for t in a.get("tags") or []}


def _wait(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(1)


def test_the_standby_follows_the_primary_and_serves_reads_without_it(pair, tmp_path):
    primary, standby = pair
    primary.create_project(PROJECT)
    _keep_in_step(primary, standby)
    images = {
        name: make_image(tmp_path / name, layer_sizes=[300_000, 20_000])
        for name in ("api", "web", "worker")
    }
    for name, layout in images.items():
        skopeo("copy", layout.ref, f"docker://{primary.host}/{PROJECT}/{name}:v1", creds=ADMIN)
    # A tag moved to a new image, and a tag deleted, on the primary only.
    web2 = make_image(tmp_path / "web2", layer_sizes=[50_000])
    skopeo("copy", web2.ref, f"docker://{primary.host}/{PROJECT}/web:v1", creds=ADMIN)
    skopeo("copy", web2.ref, f"docker://{primary.host}/{PROJECT}/web:old", creds=ADMIN)
    with primary.client() as api:
        response = api.delete(
            f"/api/v2.0/projects/{PROJECT}/repositories/web/artifacts/{web2.manifest_digest}/tags/old"
        )
        assert response.status_code == 200, response.text

    expected = {
        "api": {"v1": images["api"].manifest_digest},
        "web": {"v1": web2.manifest_digest},
        "worker": {"v1": images["worker"].manifest_digest},
    }
    assert {name: _tags(primary, name) for name in expected} == expected
    _wait(
        lambda: {name: _tags(standby, name) for name in expected} == expected,
        "the standby to hold what the primary holds",
    )

    primary.stop()  # the primary is lost: reads go to the standby
    served = {"api": images["api"], "web": web2, "worker": images["worker"]}
    for name, layout in served.items():
        target = tmp_path / "pulled" / name
        target.parent.mkdir(exist_ok=True)
        skopeo(
            "copy",
            "--preserve-digests",
            f"docker://{standby.host}/{PROJECT}/{name}:v1",
            f"oci:{target}:v1",
            creds=ADMIN,
        )
        pulled = sorted(p.name for p in (target / "blobs" / "sha256").iterdir())
        original = sorted(p.name for p in (layout.path / "blobs" / "sha256").iterdir())
        assert pulled == original, name
