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
