"""Scanning through the whole stack with tests/scanner_adapter.py as the scanner: push
with skopeo, scan on push (the durable artifact_pushed consumer in the Celery worker),
the report in the API, the pull refused by prevent_vul at the gate with Harbor's 412, and
the system allowlist lifting it."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.transfer import push
from tests.imagegen import make_image
from tests.scanner_adapter import VULN, AdapterProcess
from tests.stack import ADMIN_PASSWORD, Instance


@pytest.fixture(scope="module")
def scanner(stack: Instance) -> Iterator[AdapterProcess]:
    with AdapterProcess() as adapter:
        adapter.configure(
            polls=1,
            findings={
                "*": [
                    {
                        "id": "CVE-2026-0001",
                        "package": "openssl",
                        "version": "1.0",
                        "severity": "Critical",
                    },
                    {"id": "CVE-2026-0002", "package": "zlib", "version": "1.2", "severity": "Low"},
                ]
            },
        )
        with stack.client() as api:
            created = api.post(
                "/api/v2.0/scanners",
                json={"name": f"e2e-{uuid.uuid4().hex[:6]}", "url": adapter.url},
            )
            assert created.status_code == 201, created.text
            uuid_ = created.headers["Location"].rsplit("/", 1)[1]
            assert (
                api.patch(f"/api/v2.0/scanners/{uuid_}", json={"is_default": True}).status_code
                == 200
            )
        yield adapter
        with stack.client() as api:
            api.delete(f"/api/v2.0/scanners/{uuid_}")
            api.put("/api/v2.0/system/CVEAllowlist", json={"items": []})


def _manifest(stack: Instance, repository: str) -> httpx.Response:
    token = stack.token([f"repository:{repository}:pull"], auth=("admin", ADMIN_PASSWORD))["token"]
    with stack.client(auth=None) as client:
        return client.get(
            f"/v2/{repository}/manifests/latest",
            headers={
                "Authorization": f"Bearer {token}",
                "Accept": "application/vnd.oci.image.manifest.v1+json",
            },
        )


def test_scan_on_push_then_prevent_vul_and_the_allowlist(
    stack: Instance, scanner: AdapterProcess, tmp_path: Path
):
    project = f"scan{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    with stack.client() as api:
        metadata = {"auto_scan": "true", "prevent_vul": "true", "severity": "high"}
        assert (
            api.put(f"/api/v2.0/projects/{project}", json={"metadata": metadata}).status_code == 200
        )
    layout = make_image(tmp_path / "image", layer_sizes=[2048])
    pushed = push(stack.host, layout, f"{project}/app:latest", timeout=120)
    assert pushed.returncode == 0, pushed.stderr

    deadline = time.monotonic() + 90
    overview: dict = {}
    with stack.client() as api:
        while time.monotonic() < deadline:
            body = api.get(
                f"/api/v2.0/projects/{project}/repositories/app/artifacts/latest",
                params={"with_scan_overview": "true"},
            ).json()
            overview = body.get("scan_overview", {}).get(VULN, {})
            if overview.get("scan_status") in ("Success", "Error"):
                break
            time.sleep(0.5)
    assert overview.get("scan_status") == "Success", (overview, stack.logs())
    assert overview["summary"]["summary"] == {"Critical": 1, "Low": 1}

    refused = _manifest(stack, f"{project}/app")
    assert refused.status_code == 412, refused.text
    [error] = refused.json()["errors"]
    assert error["code"] == "PROJECT_POLICY_VIOLATION"
    assert error["message"].startswith('current image with "1 vulnerabilities"')

    with stack.client() as api:
        allow = {"items": [{"cve_id": "CVE-2026-0001"}]}
        assert api.put("/api/v2.0/system/CVEAllowlist", json=allow).status_code == 200
    # another web process may hold the verdict for scanning.cache.LOCAL_SECONDS
    deadline = time.monotonic() + 10
    while (status := _manifest(stack, f"{project}/app").status_code) != 200:
        assert status == 412 and time.monotonic() < deadline, status
        time.sleep(0.2)
