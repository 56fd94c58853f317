"""The built-in scanner as the platform runs it: its own process (supervisord's
[program:scanner]), answering the adapter API on its loopback port, pulling an image that
skopeo pushed through nginx with Basic credentials exchanged at the instance's token
service, against OSV records imported with `manage.py scanner_db import`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid

import httpx

from tests.adapter_contract import assert_adapter_matches
from tests.imagegen import OCI_MANIFEST, make_image
from tests.scanner_images import DEBIAN_FINDINGS, OSV_DIR, debian_image_layers, findings_of
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

VULN = "application/vnd.security.vulnerability.report; version=1.1"


def _scanner_token(stack: Instance) -> str:
    secret = (stack.data_dir / "keys" / "secret_key").read_text().strip()
    return hmac.new(secret.encode(), b"harbor-py builtin scanner", hashlib.sha256).hexdigest()


def test_the_platforms_scanner_scans_a_pushed_image(stack: Instance, tmp_path) -> None:
    imported = stack.manage("scanner_db", "import", str(OSV_DIR))
    assert "23 record(s) imported" in imported.stdout
    project = f"scan{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    layout = make_image(tmp_path / "img", layers=debian_image_layers(), tag="v1")
    skopeo(
        "copy",
        layout.ref,
        f"docker://{stack.host}/{project}/app:v1",
        creds=("admin", ADMIN_PASSWORD),
    )

    basic = base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
    request = {
        "registry": {"url": stack.url, "authorization": f"Basic {basic}"},
        "artifact": {
            "repository": f"{project}/app",
            "digest": layout.manifest_digest,
            "tag": "v1",
            "mime_type": OCI_MANIFEST,
        },
    }
    headers = {"Authorization": f"Bearer {_scanner_token(stack)}"}
    with httpx.Client(base_url=stack.scanner_url, headers=headers, timeout=30) as api:
        accepted = api.post("/api/v1/scan", json=request)
        assert_adapter_matches("AcceptScanRequest", accepted, 202)
        deadline = time.monotonic() + 120
        while True:
            report = api.get(
                f"/api/v1/scan/{accepted.json()['id']}/report", headers={"Accept": VULN}
            )
            assert_adapter_matches("GetScanReport", report)
            if report.status_code != 302:
                break
            assert time.monotonic() < deadline, "no report within 120 s"
            time.sleep(0.2)
    assert report.status_code == 200, report.text
    assert findings_of(report.json()) == DEBIAN_FINDINGS


def test_harbors_api_scans_with_the_builtin_scanner_the_platform_registered(
    stack: Instance, tmp_path
) -> None:
    """`platform up` registered the built-in scanner (with its Bearer token): a scan asked
    through Harbor's API runs in it and its report comes back as the vulnerabilities
    addition; prevent_vul then refuses the pull."""
    stack.manage("scanner_db", "import", str(OSV_DIR))
    project = f"bscan{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    layout = make_image(tmp_path / "img", layers=debian_image_layers(), tag="v1")
    skopeo(
        "copy",
        layout.ref,
        f"docker://{stack.host}/{project}/app:v1",
        creds=("admin", ADMIN_PASSWORD),
    )
    artifact = f"/api/v2.0/projects/{project}/repositories/app/artifacts/v1"
    with stack.client() as api:
        [builtin] = [
            s for s in api.get("/api/v2.0/scanners").json() if s["url"] == stack.scanner_url
        ]
        assert builtin["auth"] == "Bearer"
        chosen = api.put(f"/api/v2.0/projects/{project}/scanner", json={"uuid": builtin["uuid"]})
        assert chosen.status_code == 200, chosen.text
        assert api.post(f"{artifact}/scan").status_code == 202
        deadline = time.monotonic() + 120
        while True:
            overview = (
                api.get(artifact, params={"with_scan_overview": "true"})
                .json()
                .get("scan_overview", {})
                .get(VULN, {})
            )
            if overview.get("scan_status") in ("Success", "Error"):
                break
            assert time.monotonic() < deadline, overview
            time.sleep(0.5)
        assert overview["scan_status"] == "Success", (overview, stack.logs())
        report = api.get(f"{artifact}/additions/vulnerabilities").json()[VULN]
        assert findings_of(report) == DEBIAN_FINDINGS
