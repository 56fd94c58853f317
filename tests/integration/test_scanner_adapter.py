"""The built-in scanner through its adapter API (scanner.adapter served over HTTP on
loopback), pulling images with real package databases from a real distribution with a
real token, against the OSV records shipped in tests/scanner_data/osv/ imported with
`manage.py scanner_db import`. Every answer is checked against the adapter OpenAPI
document (tests/adapter_contract.py)."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from socketserver import ThreadingMixIn
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import timezone

from accounts.tokens import Scope, mint
from scanner import adapter, leases, sbom, vulndb
from scanner.models import Advisory, LayerFindings, LayerInventory, ScanJob
from tests.adapter_contract import assert_adapter_matches
from tests.distribution_process import serving_tcp
from tests.imagegen import files_layer
from tests.scanner_images import (
    ALMA_FINDINGS,
    ALPINE_FINDINGS,
    APP,
    DEBIAN_FINDINGS,
    DEBIAN_PACKAGES,
    OSV_DIR,
    OSV_RPM_DIR,
    alma_image_layers,
    alpine_image_layers,
    debian_image_layers,
    findings_of,
    npm_package,
    push_image_layers,
)
from tests.stack import DOCKER_REGISTRY, free_port

pytestmark = pytest.mark.django_db(transaction=True)

VULN = "application/vnd.security.vulnerability.report; version=1.1"
SBOM = "application/vnd.security.sbom.report+json; version=1.0"


@pytest.fixture(scope="module")
def registry_url(tmp_path_factory) -> Iterator[str]:
    """A real distribution on a loopback TCP port, trusting this process's tokens."""
    if not os.path.exists(DOCKER_REGISTRY):
        pytest.skip("docker-registry is not installed")
    with serving_tcp(tmp_path_factory.mktemp("scanner-registry")) as url:
        yield url


class _Server(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _Quiet(WSGIRequestHandler):
    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def scanner_url(settings) -> Iterator[str]:
    """The adapter's WSGI application on a loopback port, as gunicorn would serve it."""
    server = make_server(
        "127.0.0.1", 0, adapter.application, server_class=_Server, handler_class=_Quiet
    )
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    pool = adapter.executor()  # before a test replaces it
    url = f"http://127.0.0.1:{server.server_port}"
    settings.HARBOR = {**settings.HARBOR, "BUILTIN_SCANNER_URL": url}
    yield url
    server.shutdown()
    server.server_close()
    # the scan pool runs one job at a time, in order: this waits for the last one's end
    # (it closes its database connection, which the test database's teardown needs)
    pool.submit(lambda: None).result(timeout=60)


def _auth() -> dict[str, str]:
    return {"Authorization": f"Bearer {settings.HARBOR['BUILTIN_SCANNER_TOKEN']}"}


def _token(repository: str, actions: set[str]) -> str:
    token, _, _ = mint("scanner-test", [Scope("repository", repository, frozenset(actions))])
    return f"Bearer {token}"


@pytest.fixture
def osv_db():
    out = io.StringIO()
    call_command("scanner_db", "import", str(OSV_DIR), stdout=out)
    assert "23 record(s) imported (1 withdrawn)" in out.getvalue()


def _scan_request(
    registry_url: str, repository: str, digest: str, media_type: str, token: str
) -> dict:
    return {
        "registry": {"url": registry_url, "authorization": token},
        "artifact": {
            "repository": repository,
            "digest": digest,
            "tag": "v1",
            "mime_type": media_type,
        },
        "enabled_capabilities": [
            {"type": "vulnerability", "produces_mime_types": [VULN]},
            {
                "type": "sbom",
                "produces_mime_types": [SBOM],
                "parameters": {"sbom_media_types": list(sbom.MEDIA_TYPES)},
            },
        ],
    }


def _submit(api: httpx.Client, request: dict) -> str:
    response = api.post(
        "/api/v1/scan",
        content=json.dumps(request),
        headers={"Content-Type": "application/vnd.scanner.adapter.scan.request+json; version=1.1"},
    )
    assert_adapter_matches("AcceptScanRequest", response, 202)
    return response.json()["id"]


def _poll(
    api: httpx.Client, scan_id: str, accept: str = VULN, params: dict | None = None
) -> httpx.Response:
    deadline = time.monotonic() + 60
    while True:
        response = api.get(
            f"/api/v1/scan/{scan_id}/report", headers={"Accept": accept}, params=params
        )
        assert_adapter_matches("GetScanReport", response)
        if response.status_code != 302:
            return response
        assert time.monotonic() < deadline, "the scan did not finish within 60 s"
        time.sleep(0.1)


def test_scan_through_the_adapter_api_finds_exactly_the_expected(registry_url, scanner_url, osv_db):
    repository = "scan/debian"
    digest, media_type = push_image_layers(
        registry_url, repository, "v1", debian_image_layers(), _token(repository, {"pull", "push"})
    )
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        metadata = api.get("/api/v1/metadata")
        assert_adapter_matches("GetMetadata", metadata, 200)
        assert {c["type"] for c in metadata.json()["capabilities"]} == {"vulnerability", "sbom"}
        assert (
            "harbor.scanner-adapter/vulnerability-database-updated-at"
            in metadata.json()["properties"]
        )

        scan_id = _submit(
            api,
            _scan_request(
                registry_url, repository, digest, media_type, _token(repository, {"pull"})
            ),
        )
        report = _poll(api, scan_id)
        assert report.status_code == 200 and report.headers["Content-Type"] == VULN
        body = report.json()
        assert findings_of(body) == DEBIAN_FINDINGS
        assert body["severity"] == "Critical"
        assert body["artifact"] == {
            "repository": repository,
            "digest": digest,
            "tag": "v1",
            "mime_type": media_type,
        }
        critical = next(v for v in body["vulnerabilities"] if v["id"] == "DSA-0001-1")
        assert critical["preferred_cvss"] == {
            "vector_v3": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
            "score_v3": 9.8,
        }
        assert critical["links"] == ["https://osv.dev/vulnerability/DSA-0001-1"]

        # Harbor's v1.0 report type answers the same findings
        legacy = _poll(
            api, scan_id, "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
        )
        assert findings_of(legacy.json()) == DEBIAN_FINDINGS

        cyclonedx = _poll(api, scan_id, SBOM, {"sbom_media_type": sbom.CYCLONEDX})
        assert cyclonedx.json()["media_type"] == sbom.CYCLONEDX
        components = cyclonedx.json()["sbom"]["components"]
        assert {(c["name"], c["version"]) for c in components} == DEBIAN_PACKAGES
        spdx = _poll(api, scan_id, SBOM, {"sbom_media_type": sbom.SPDX})
        assert spdx.json()["sbom"]["spdxVersion"] == "SPDX-2.3"
        assert len(spdx.json()["sbom"]["packages"]) == len(DEBIAN_PACKAGES) + 1

        # the SBOM report needs its format: 400 without it
        missing = api.get(f"/api/v1/scan/{scan_id}/report", headers={"Accept": SBOM})
        assert_adapter_matches("GetScanReport", missing, 400)
        unknown = api.get(
            f"/api/v1/scan/{scan_id}/report",
            headers={"Accept": "application/vnd.scanner.adapter.vuln.report.raw"},
        )
        assert_adapter_matches("GetScanReport", unknown, 501)


def test_an_image_sharing_layers_costs_only_its_new_layers(registry_url, scanner_url, osv_db):
    layers = debian_image_layers()
    repository = "scan/shared"
    push = _token(repository, {"pull", "push"})
    first, media_type = push_image_layers(registry_url, repository, "one", layers, push)
    # the same two lower layers, another top layer: no whiteout, no opaque directory
    top = files_layer({f"{APP}/lodash/package.json": npm_package("lodash", "4.17.20")})
    second, _ = push_image_layers(registry_url, repository, "two", [*layers[:2], top], push)
    pull = _token(repository, {"pull"})
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        _poll(api, _submit(api, _scan_request(registry_url, repository, first, media_type, pull)))
        assert (LayerInventory.objects.count(), LayerFindings.objects.count()) == (3, 3)
        scan_id = _submit(api, _scan_request(registry_url, repository, second, media_type, pull))
        report = _poll(api, scan_id)
        assert report.status_code == 200
        result = ScanJob.objects.get(pk=scan_id).result
        assert (result["layers"], result["cached_layers"], result["matched_layers"]) == (3, 2, 1)
        assert (LayerInventory.objects.count(), LayerFindings.objects.count()) == (4, 4)
        # what the first image's top layer deleted or hid is back, from the cached layers
        assert findings_of(report.json()) == {
            f for f in DEBIAN_FINDINGS if f[1] not in ("express", "@babel/traverse")
        } | {
            ("PYSEC-0002", "oldlib", "1.0", "", "High"),
            ("GHSA-left-0001-0001", "left-pad", "1.3.0", "", "Low"),
            ("GHSA-lodh-0001-0001", "lodash", "4.17.20", "", "High"),
        }

        # a new import makes the cached matches stale: the next scan matches again
        extra = {
            "id": "DSA-0007-1",
            "affected": [
                {
                    "package": {"ecosystem": "Debian:12", "name": "tzdata"},
                    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}],
                }
            ],
        }
        vulndb.import_records([extra], source="test")
        assert LayerFindings.objects.count() == 0
        scan_id = _submit(api, _scan_request(registry_url, repository, first, media_type, pull))
        again = _poll(api, scan_id).json()
    result = ScanJob.objects.get(pk=scan_id).result
    assert (result["cached_layers"], result["matched_layers"]) == (3, 3)
    assert findings_of(again) == DEBIAN_FINDINGS | {
        ("DSA-0007-1", "tzdata", "2024a-0+deb12u1", "", "Unknown")
    }


def test_alpine_image_findings(registry_url, scanner_url, osv_db):
    repository = "scan/alpine"
    digest, media_type = push_image_layers(
        registry_url, repository, "v1", alpine_image_layers(), _token(repository, {"pull", "push"})
    )
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        scan_id = _submit(
            api,
            _scan_request(
                registry_url, repository, digest, media_type, _token(repository, {"pull"})
            ),
        )
        assert findings_of(_poll(api, scan_id).json()) == ALPINE_FINDINGS


def test_rpm_image_findings_and_sbom(registry_url, scanner_url, osv_db):
    """An AlmaLinux image whose rpmdb.sqlite librpm reads, through the adapter API; the
    SBOM names the RPMs by their package URLs."""
    call_command("scanner_db", "import", str(OSV_RPM_DIR), stdout=io.StringIO())
    repository = "scan/alma"
    digest, media_type = push_image_layers(
        registry_url, repository, "v1", alma_image_layers(), _token(repository, {"pull", "push"})
    )
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        request = _scan_request(
            registry_url, repository, digest, media_type, _token(repository, {"pull"})
        )
        scan_id = _submit(api, request)
        report = _poll(api, scan_id).json()
        assert findings_of(report) == ALMA_FINDINGS
        openssl = next(v for v in report["vulnerabilities"] if v["id"] == "ALSA-0001")
        assert openssl["vendor_attributes"]["ecosystem"] == "AlmaLinux"
        assert openssl["vendor_attributes"]["path"] == "var/lib/rpm/rpmdb.sqlite"
        spdx = _poll(api, scan_id, accept=SBOM, params={"sbom_media_type": sbom.SPDX}).json()[
            "sbom"
        ]
    purls = {
        ref["referenceLocator"]
        for package in spdx["packages"]
        for ref in package.get("externalRefs", [])
        if ref.get("referenceType") == "purl"
    }
    assert "pkg:rpm/almalinux/bash@5.1.8-6.el9_1?arch=noarch" in purls


def test_a_scan_the_registry_refuses_ends_in_an_error(registry_url, scanner_url, osv_db):
    repository = "scan/denied"
    digest, media_type = push_image_layers(
        registry_url, repository, "v1", alpine_image_layers(), _token(repository, {"pull", "push"})
    )
    wrong = _token("scan/other", {"pull"})  # a token for another repository
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        scan_id = _submit(api, _scan_request(registry_url, repository, digest, media_type, wrong))
        failed = _poll(api, scan_id)
    assert_adapter_matches("GetScanReport", failed, 500)
    assert "401" in failed.json()["error"]["message"]


def test_running_scans_answer_302_with_refresh_after(scanner_url, monkeypatch):
    class Held:
        def submit(self, *args):
            return None  # the worker never picks it up

    monkeypatch.setattr(adapter, "executor", lambda: Held())
    digest = "sha256:" + "0" * 64
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        scan_id = _submit(
            api,
            _scan_request(
                "http://127.0.0.1:1",
                "a/b",
                digest,
                "application/vnd.oci.image.manifest.v1+json",
                "",
            ),
        )
        response = api.get(
            f"/api/v1/scan/{scan_id}/report", headers={"Accept": VULN}, follow_redirects=False
        )
        assert_adapter_matches("GetScanReport", response, 302)
        assert response.headers["Refresh-After"] == str(adapter.REFRESH_AFTER_SECONDS)
    job = ScanJob.objects.get(pk=scan_id)
    assert job.owner == leases.this_process() and job.heartbeat is not None
    # this process lives: a restart of another process ends none of its jobs
    assert adapter.recover_jobs() == 0
    # a restarted scanner ends the jobs its dead predecessor on this host left behind, at
    # once (no waiting for the lease), so that a poll gets an answer
    ScanJob.objects.filter(pk=scan_id).update(owner=f"{socket.gethostname()}:{_dead_pid()}")
    assert adapter.recover_jobs() == 1
    assert ScanJob.objects.get(pk=scan_id).status == ScanJob.ERROR


def _dead_pid() -> int:
    import subprocess

    child = subprocess.Popen(["true"])
    child.wait()
    return child.pid


def _held_job(owner: str, heartbeat_age: float) -> ScanJob:
    return ScanJob.objects.create(
        request={"artifact": {"repository": "a/b", "digest": "sha256:" + "0" * 64}},
        status=ScanJob.RUNNING,
        owner=owner,
        heartbeat=timezone.now() - timedelta(seconds=heartbeat_age),
    )


def test_a_scan_held_by_a_vanished_node_ends_when_polled_from_any_node(scanner_url):
    """The scanner process of another host stopped renewing its lease (the node vanished):
    a poll answered by this node ends the job in an error instead of 302 for ever; a job
    whose other-host owner is alive (a fresh heartbeat) still answers 302."""
    gone = _held_job("node-b.example:4242", leases.STALE_SECONDS + 5)
    alive = _held_job("node-c.example:4242", 1)
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        answer = api.get(f"/api/v1/scan/{gone.pk}/report", headers={"Accept": VULN})
        assert_adapter_matches("GetScanReport", answer, 500)
        assert "node-b.example:4242" in answer.json()["error"]["message"]
        assert "stopped" in answer.json()["error"]["message"]
        running = api.get(
            f"/api/v1/scan/{alive.pk}/report", headers={"Accept": VULN}, follow_redirects=False
        )
        assert_adapter_matches("GetScanReport", running, 302)
    assert ScanJob.objects.get(pk=gone.pk).status == ScanJob.ERROR
    assert ScanJob.objects.get(pk=alive.pk).status == ScanJob.RUNNING


def test_a_starting_scanner_ends_the_stale_jobs_of_every_node_and_no_live_ones():
    stale_elsewhere = _held_job("node-b.example:1", leases.STALE_SECONDS + 5)
    live_elsewhere = _held_job("node-c.example:1", 1)
    mine = _held_job(leases.this_process(), leases.STALE_SECONDS + 5)
    assert leases.beat_once() == 1  # this process renews the lease of what it holds
    assert adapter.recover_jobs() == 1
    status = dict(ScanJob.objects.values_list("pk", "status"))
    assert status[stale_elsewhere.pk] == ScanJob.ERROR
    assert status[live_elsewhere.pk] == ScanJob.RUNNING
    assert status[mine.pk] == ScanJob.RUNNING


def test_the_heartbeat_thread_renews_the_jobs_of_its_process(monkeypatch):
    monkeypatch.setattr(leases, "HEARTBEAT_SECONDS", 0.05)
    monkeypatch.setattr(leases, "_beating", None)
    job = _held_job(leases.this_process(), 600)
    leases.start_heartbeat()
    deadline = time.monotonic() + 10
    while ScanJob.objects.get(pk=job.pk).heartbeat < timezone.now() - timedelta(seconds=60):
        assert time.monotonic() < deadline, "the heartbeat did not renew the lease"
        time.sleep(0.05)


def test_refusals_of_the_adapter_api(scanner_url):
    with httpx.Client(base_url=scanner_url, timeout=30) as anonymous:
        assert anonymous.get("/api/v1/metadata").status_code == 401
        wrong = anonymous.get("/api/v1/metadata", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401 and wrong.json() == {
            "error": {"message": "the Authorization header is missing or wrong"}
        }
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        bad_json = api.post("/api/v1/scan", content=b"{not json")
        assert_adapter_matches("AcceptScanRequest", bad_json, 400)
        huge = api.post("/api/v1/scan", content=b" " * (adapter.MAX_REQUEST_BYTES + 1))
        assert_adapter_matches("AcceptScanRequest", huge, 400)
        assert "larger than" in huge.json()["error"]["message"]
        no_digest = api.post(
            "/api/v1/scan",
            json={"registry": {"url": "http://r"}, "artifact": {"repository": "a/b"}},
        )
        assert_adapter_matches("AcceptScanRequest", no_digest, 422)
        index = api.post(
            "/api/v1/scan",
            json={
                "registry": {"url": "http://r"},
                "artifact": {
                    "repository": "a/b",
                    "digest": "sha256:" + "1" * 64,
                    "mime_type": "application/vnd.oci.image.index.v1+json",
                },
            },
        )
        assert_adapter_matches("AcceptScanRequest", index, 501)
        unknown = api.get("/api/v1/scan/3fa85f64-5717-4562-b3fc-2c963f66afa6/report")
        assert_adapter_matches("GetScanReport", unknown, 404)
        garbage = api.get("/api/v1/scan/not-an-id/report")
        assert_adapter_matches("GetScanReport", garbage, 404)
    assert ScanJob.objects.count() == 0


def test_scanner_db_status_and_reimport(osv_db):
    out = io.StringIO()
    call_command("scanner_db", "status", "--json", stdout=out)
    state = json.loads(out.getvalue())
    assert state["records"] == 23 and state["withdrawn"] == 1
    assert state["ecosystems"] == {"Alpine": 3, "Debian": 6, "Go": 2, "PyPI": 8, "npm": 4}
    # a newer export of a record replaces it whole
    call_command("scanner_db", "import", str(OSV_DIR / "PYSEC-0001.json"), stdout=io.StringIO())
    assert Advisory.objects.count() == 23
    assert Advisory.objects.get(id="PYSEC-0001").affected.count() == 1


def test_health_names_the_scanner(scanner_url, client):
    components = {c["name"]: c for c in client.get("/api/v2.0/health").json()["components"]}
    assert components["scanner"]["status"] == "healthy"
    settings.HARBOR["BUILTIN_SCANNER_URL"] = f"http://127.0.0.1:{free_port()}"
    components = {c["name"]: c for c in client.get("/api/v2.0/health").json()["components"]}
    assert components["scanner"]["status"] == "unhealthy"


def test_health_leaves_out_a_scanner_turned_off(client, settings):
    settings.HARBOR = {**settings.HARBOR, "BUILTIN_SCANNER": False}
    names = [c["name"] for c in client.get("/api/v2.0/health").json()["components"]]
    assert "scanner" not in names and "jobservice" in names


def test_the_registry_credentials_are_not_stored(scanner_url, monkeypatch):
    monkeypatch.setattr(
        adapter, "executor", lambda: type("Held", (), {"submit": lambda *a: None})()
    )
    request = _scan_request("http://127.0.0.1:1", "a/b", "sha256:" + "2" * 64, "", "Bearer s3cret")
    request["artifact"].pop("mime_type")
    with httpx.Client(base_url=scanner_url, headers=_auth(), timeout=30) as api:
        scan_id = _submit(api, request)
    stored = ScanJob.objects.get(pk=scan_id).request
    assert stored["registry"] == {"url": "http://127.0.0.1:1"}
    assert "s3cret" not in json.dumps(stored)
