"""The scanning caller against tests/scanner_adapter.py (a separate process that follows
the adapter API v1.2 and can be slow, fail or answer garbage): registrations, scans as
jobs, reports per artifact/scanner/MIME type, index aggregation, the prevent_vul pull
policy with allowlists, scan on push, SBOM accessories, the security hub and the export.
Responses are checked against Harbor's API document (tests/contract.py)."""

from __future__ import annotations

import dataclasses
import json
from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from harbor_py.core import secretbox
from harbor_py.core.events import consumer_named
from jobs.models import Execution
from registry import upstream
from registry.events import ArtifactPushed
from registry.models import Artifact, Tag
from scanning import adapter, scans, services
from scanning.models import ReportStatus, Scanner, ScanReport
from tests.contract import assert_matches
from tests.distribution import bearer, push_image
from tests.integration import registry_data
from tests.integration.conftest import assert_harbor_error
from tests.integration.test_registry_gate import get
from tests.scanner_adapter import AdapterProcess

VULN = adapter.VULN_REPORT
pytest_plugins = ["tests.distribution_plugin"]


def finding(cve: str, severity: str, package: str = "openssl", fixed: str = "") -> dict:
    return {
        "id": cve,
        "package": package,
        "version": "1.0",
        "fix_version": fixed,
        "severity": severity,
        "description": f"{cve} in {package}",
        "links": [f"https://example.org/{cve}"],
        "preferred_cvss": {"score_v3": 9.8 if severity == "Critical" else 5.0},
    }


@pytest.fixture(scope="module")
def adapter_process():
    with AdapterProcess() as process:
        yield process


@pytest.fixture
def scanner_url(adapter_process, settings):
    adapter_process.configure(mode="ok", polls=1, findings={}, refresh_after=None)
    settings.HARBOR = {
        **settings.HARBOR,
        "SCAN_POLL_SECONDS": 0.05,
        "SCAN_MAX_POLL_SECONDS": 0.2,
        "SCAN_TIMEOUT_SECONDS": 2,
    }
    return adapter_process.url


@pytest.fixture
def admin_client(admin, client_for):
    return client_for(admin)


@pytest.fixture
def registered(scanner_url, admin_client):
    response = admin_client.post(
        "/api/v2.0/scanners",
        {"name": "test", "url": scanner_url, "auth": "Bearer", "access_credential": "s3cret"},
        format="json",
    )
    assert response.status_code == 201, response.content
    uuid = response["Location"].rsplit("/", 1)[1]
    admin_client.patch(f"/api/v2.0/scanners/{uuid}", {"is_default": True}, format="json")
    return Scanner.objects.get(uuid=uuid)


def scan(client, artifact, capture, body=None):
    name = artifact.repository.name
    project, _, repository = name.partition("/")
    with capture(execute=True):
        return client.post(
            f"/api/v2.0/projects/{project}/repositories/{repository}/artifacts/"
            f"{artifact.digest}/scan",
            body,
            format="json",
        )


def report_of(artifact) -> ScanReport:
    return ScanReport.objects.get(artifact=artifact, mime_type=VULN)


# --- registrations ---------------------------------------------------------------------


def test_registration_stores_the_credential_encrypted_and_answers_harbor_shapes(
    registered, admin_client
):
    assert registered.access_credential_encrypted.startswith(secretbox.PREFIX)
    assert "s3cret" not in registered.access_credential_encrypted
    assert registered.access_credential == "s3cret"
    listed = admin_client.get("/api/v2.0/scanners")
    assert_matches("listScanners", listed, 200)
    [body] = listed.json()
    assert body["access_credential"] == "" and body["is_default"] is True
    one = admin_client.get(f"/api/v2.0/scanners/{registered.uuid}")
    assert_matches("getScanner", one, 200)
    meta = admin_client.get(f"/api/v2.0/scanners/{registered.uuid}/metadata")
    assert_matches("getScannerMetadata", meta, 200)
    assert meta.json()["scanner"]["name"] == "TestScanner"
    registered.refresh_from_db()
    assert registered.metadata is not None and registered.metadata_time is not None


def test_update_keeps_the_credential_unless_auth_is_cleared(registered, admin_client):
    url = f"/api/v2.0/scanners/{registered.uuid}"
    body = {"name": "renamed", "url": registered.url, "auth": "Bearer"}
    assert admin_client.put(url, body, format="json").status_code == 200
    registered.refresh_from_db()
    assert (registered.name, registered.access_credential) == ("renamed", "s3cret")
    assert admin_client.put(url, {**body, "auth": ""}, format="json").status_code == 200
    registered.refresh_from_db()
    assert registered.access_credential == ""


def test_registration_refuses_duplicates_bad_urls_and_non_admins(
    registered, admin_client, make_user, client_for
):
    dup = admin_client.post(
        "/api/v2.0/scanners", {"name": "test", "url": "http://other:1"}, format="json"
    )
    assert_harbor_error(dup, 409, "CONFLICT")
    bad = admin_client.post("/api/v2.0/scanners", {"name": "x", "url": "ftp://x"}, format="json")
    assert_harbor_error(bad, 400, "BAD_REQUEST")
    user = client_for(make_user("plain"))
    assert user.get("/api/v2.0/scanners").status_code == 403


def test_ping_asks_the_adapter_and_refuses_garbage(scanner_url, adapter_process, admin_client):
    body = {"name": "p", "url": scanner_url}
    assert admin_client.post("/api/v2.0/scanners/ping", body, format="json").status_code == 200
    adapter_process.configure(mode="bad_metadata")
    refused = admin_client.post("/api/v2.0/scanners/ping", body, format="json")
    assert_harbor_error(refused, 400, "BAD_REQUEST")
    down = admin_client.post(
        "/api/v2.0/scanners/ping", {"name": "p", "url": "http://127.0.0.1:9"}, format="json"
    )
    assert_harbor_error(down, 400, "BAD_REQUEST")


def test_ensure_default_scanner_is_idempotent(db):
    services.ensure_default_scanner(name="builtin", url="http://127.0.0.1:9999")
    services.ensure_default_scanner(name="builtin", url="http://127.0.0.1:9999/")
    [only] = Scanner.objects.all()
    assert only.is_default and only.url == "http://127.0.0.1:9999"
    other = Scanner.objects.create(name="other", url="http://other:1")
    Scanner.objects.filter(pk=only.pk).update(is_default=False)
    Scanner.objects.filter(pk=other.pk).update(is_default=True)
    services.ensure_default_scanner(name="builtin", url="http://127.0.0.1:9999")
    assert Scanner.objects.get(is_default=True) == other


def test_project_scanner_and_candidates(registered, admin_client, make_project, scanner_url):
    project = make_project("demo")
    got = admin_client.get("/api/v2.0/projects/demo/scanner")
    assert_matches("getScannerOfProject", got, 200)
    assert got.json()["uuid"] == registered.uuid
    second = Scanner.objects.create(name="second", url="http://127.0.0.1:1")
    put = admin_client.put("/api/v2.0/projects/demo/scanner", {"uuid": second.uuid}, format="json")
    assert put.status_code == 200
    assert (
        admin_client.get(f"/api/v2.0/projects/{project.pk}/scanner").json()["uuid"] == second.uuid
    )
    candidates = admin_client.get("/api/v2.0/projects/demo/scanner/candidates")
    assert_matches("listScannerCandidatesOfProject", candidates, 200)
    assert {c["name"] for c in candidates.json()} == {"test", "second"}


# --- scans -----------------------------------------------------------------------------


def test_scan_passes_a_pull_only_token_for_the_repository_and_stores_the_report(
    registered, adapter_process, admin_client, make_project, django_capture_on_commit_callbacks
):
    project = make_project("demo")
    artifact = registry_data.image(project, "app", "v1")
    adapter_process.configure(
        findings={
            artifact.digest: [finding("CVE-1", "Critical", fixed="1.1"), finding("CVE-2", "Low")]
        }
    )
    response = scan(admin_client, artifact, django_capture_on_commit_callbacks)
    assert_matches("scanArtifact", response, 202)
    report = report_of(artifact)
    assert report.status == ReportStatus.SUCCESS, report.status_message
    assert report.summary == {
        "total": 2,
        "fixable": 1,
        "summary": {"Critical": 1, "Low": 1},
        "severity": "Critical",
    }
    request = adapter_process.requests()[-1]
    assert request["content_type"].startswith("application/vnd.scanner.adapter.scan.request+json")
    assert request["body"]["artifact"] == {
        "repository": "demo/app",
        "digest": artifact.digest,
        "tag": "v1",
        "mime_type": artifact.manifest_media_type,
    }
    scheme, token = request["body"]["registry"]["authorization"].split(" ", 1)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert scheme == "Bearer"
    assert claims["access"] == [{"type": "repository", "name": "demo/app", "actions": ["pull"]}]
    assert claims["exp"] - claims["iat"] <= 2 + 300
    execution = Execution.objects.get(vendor_type="IMAGE_SCAN", vendor_id=artifact.pk)
    assert execution.status == "Success"

    listed = admin_client.get(
        "/api/v2.0/projects/demo/repositories/app/artifacts?with_scan_overview=true"
    )
    assert_matches("listArtifacts", listed, 200)
    overview = listed.json()[0]["scan_overview"][VULN]
    assert overview["scan_status"] == "Success" and overview["severity"] == "Critical"
    assert overview["summary"]["summary"] == {"Critical": 1, "Low": 1}
    detail = admin_client.get(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1?with_scan_overview=true"
    )
    assert_matches("getArtifact", detail, 200)
    plain = admin_client.get("/api/v2.0/projects/demo/repositories/app/artifacts/v1")
    assert "scan_overview" not in plain.json()

    vulns = admin_client.get(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1/additions/vulnerabilities"
    )
    assert vulns.status_code == 200
    assert {v["id"] for v in vulns.json()[VULN]["vulnerabilities"]} == {"CVE-1", "CVE-2"}
    log = admin_client.get(
        f"/api/v2.0/projects/demo/repositories/app/artifacts/v1/scan/{report.uuid}/log"
    )
    assert log.status_code == 200 and b"2 vulnerabilities" in log.content


def test_the_adapter_gets_its_credential(
    scanner_url, admin_client, make_project, django_capture_on_commit_callbacks, settings
):
    with AdapterProcess(api_key="k3y") as keyed:
        keyed.configure(polls=0)
        Scanner.objects.create(
            name="keyed",
            url=keyed.url,
            auth="X-ScannerAdapter-API-Key",
            access_credential_encrypted=secretbox.encrypt("k3y"),
            is_default=True,
        )
        artifact = registry_data.image(make_project("demo"), "app", "v1")
        scan(admin_client, artifact, django_capture_on_commit_callbacks)
        assert report_of(artifact).status == ReportStatus.SUCCESS


@pytest.mark.parametrize(
    ("mode", "message"),
    [
        ("slow", "did not finish the scan within 2 s"),
        ("error", "the test scanner failed"),
        ("refuse", "refused the scan request (500)"),
        ("garbage", "not JSON"),
        ("malformed", "vulnerabilities are not a list"),
    ],
)
def test_a_failing_adapter_leaves_a_clear_error_and_no_running_job(
    registered,
    adapter_process,
    admin_client,
    make_project,
    django_capture_on_commit_callbacks,
    mode,
    message,
):
    artifact = registry_data.image(make_project("demo"), "app", "v1")
    adapter_process.configure(mode=mode)
    assert scan(admin_client, artifact, django_capture_on_commit_callbacks).status_code == 202
    report = report_of(artifact)
    assert report.status == ReportStatus.ERROR and message in report.status_message
    execution = Execution.objects.get(vendor_type="IMAGE_SCAN", vendor_id=artifact.pk)
    assert execution.status == "Error" and message in execution.status_message
    overview = admin_client.get(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1?with_scan_overview=true"
    ).json()["scan_overview"][VULN]
    assert overview["scan_status"] == "Error"


def test_an_unreachable_adapter_is_an_error_status(
    registered, admin_client, make_project, django_capture_on_commit_callbacks
):
    artifact = registry_data.image(make_project("demo"), "app", "v1")
    services.cached_metadata(registered)  # cached: the scan starts, the adapter then goes
    Scanner.objects.filter(pk=registered.pk).update(url="http://127.0.0.1:9")
    assert scan(admin_client, artifact, django_capture_on_commit_callbacks).status_code == 202
    report = report_of(artifact)
    assert report.status == ReportStatus.ERROR and "unreachable" in report.status_message


def test_an_index_aggregates_its_children(
    registered, adapter_process, admin_client, make_project, django_capture_on_commit_callbacks
):
    project = make_project("demo")
    amd = registry_data.image(project, "app", None)
    arm = registry_data.image(project, "app", None, architecture="arm64")
    index = registry_data.index(project, "app", "multi", [amd, arm])
    adapter_process.configure(
        findings={amd.digest: [finding("CVE-1", "High")], arm.digest: [finding("CVE-2", "Medium")]}
    )
    assert scan(admin_client, index, django_capture_on_commit_callbacks).status_code == 202
    assert {report_of(a).status for a in (amd, arm)} == {ReportStatus.SUCCESS}
    body = admin_client.get(
        "/api/v2.0/projects/demo/repositories/app/artifacts/multi?with_scan_overview=true"
    ).json()
    overview = body["scan_overview"][VULN]
    assert overview["scan_status"] == "Success" and overview["severity"] == "High"
    assert overview["summary"] == {"total": 2, "fixable": 0, "summary": {"High": 1, "Medium": 1}}


def test_scan_needs_a_scanner_and_the_scan_permission(
    scanner_url,
    admin_client,
    make_project,
    make_user,
    client_for,
    django_capture_on_commit_callbacks,
):
    guest = make_user("guest")
    project = make_project("demo", members={guest: 3})
    artifact = registry_data.image(project, "app", "v1")
    refused = scan(admin_client, artifact, django_capture_on_commit_callbacks)
    assert_harbor_error(refused, 412, "PRECONDITION")
    Scanner.objects.create(name="s", url=scanner_url, is_default=True)
    forbidden = scan(client_for(guest), artifact, django_capture_on_commit_callbacks)
    assert_harbor_error(forbidden, 403, "FORBIDDEN")


def test_stop_scan_stops_the_execution(registered, adapter_process, admin_client, make_project):
    artifact = registry_data.image(make_project("demo"), "app", "v1")
    scans.start_scan(artifact=artifact, actor=services.SYSTEM)  # job left pending (no commit)
    stop = admin_client.post(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1/scan/stop", format="json"
    )
    assert_matches("stopScanArtifact", stop, 202)
    assert report_of(artifact).status == ReportStatus.STOPPED
    assert Execution.objects.get(vendor_type="IMAGE_SCAN").status == "Stopped"
    again = admin_client.post(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1/scan/stop", format="json"
    )
    assert_harbor_error(again, 400, "BAD_REQUEST")


# --- scan on push, scan all --------------------------------------------------------------


def test_scan_on_push_follows_auto_scan(
    registered, adapter_process, make_project, django_capture_on_commit_callbacks
):
    project = make_project("demo")
    artifact = registry_data.image(project, "app", "v1")
    consumer = consumer_named("scanning.scan_on_push")
    assert consumer is not None and consumer.durable
    event = ArtifactPushed(
        project="demo",
        repository="demo/app",
        digest=artifact.digest,
        tags=("v1",),
        operator="alice",
    )
    assert consumer.wants is not None and not consumer.wants(event)
    consumer.handle(event, "k1")
    assert not ScanReport.objects.exists()
    project.metadata = {"auto_scan": "true"}
    project.save()
    assert consumer.wants(event)
    with django_capture_on_commit_callbacks(execute=True):
        consumer.handle(event, "k2")
    assert report_of(artifact).status == ReportStatus.SUCCESS
    assert Execution.objects.get(vendor_type="IMAGE_SCAN").trigger == "EVENT"


def test_scan_all_schedule_metrics_and_stop(
    registered, admin_client, make_project, django_capture_on_commit_callbacks
):
    project = make_project("demo")
    for tag in ("a", "b"):
        registry_data.image(project, "app", tag)
    schedule = {"schedule": {"type": "Daily"}}
    assert (
        admin_client.post("/api/v2.0/system/scanAll/schedule", schedule, format="json").status_code
        == 201
    )
    got = admin_client.get("/api/v2.0/system/scanAll/schedule")
    assert_matches("getScanAllSchedule", got, 200)
    assert got.json()["schedule"]["type"] == "Daily"
    with django_capture_on_commit_callbacks(execute=True):
        manual = admin_client.put(
            "/api/v2.0/system/scanAll/schedule", {"schedule": {"type": "Manual"}}, format="json"
        )
    assert manual.status_code == 200
    metrics = admin_client.get("/api/v2.0/scans/all/metrics")
    assert_matches("getLatestScanAllMetrics", metrics, 200)
    assert metrics.json()["total"] == 2 and metrics.json()["metrics"] == {"Success": 2}
    assert metrics.json()["ongoing"] is False
    scheduled = admin_client.get("/api/v2.0/scans/schedule/metrics")
    assert_matches("getLatestScheduledScanAllMetrics", scheduled, 200)
    assert scheduled.json()["total"] == 0
    assert admin_client.post("/api/v2.0/system/scanAll/stop").status_code == 202


# --- prevent_vul -------------------------------------------------------------------------


def test_system_allowlist_round_trip(admin_client, make_user, client_for, db):
    body = {"items": [{"cve_id": "CVE-1"}], "expires_at": 4102444800}
    assert admin_client.put("/api/v2.0/system/CVEAllowlist", body, format="json").status_code == 200
    got = client_for(make_user("reader")).get("/api/v2.0/system/CVEAllowlist")
    assert_matches("getSystemCVEAllowlist", got, 200)
    assert got.json()["items"] == [{"cve_id": "CVE-1"}] and got.json()["expires_at"] == 4102444800
    refused = client_for(make_user("other")).put(
        "/api/v2.0/system/CVEAllowlist", body, format="json"
    )
    assert_harbor_error(refused, 403, "FORBIDDEN")
    bad = admin_client.put("/api/v2.0/system/CVEAllowlist", {"items": [{}]}, format="json")
    assert_harbor_error(bad, 400, "BAD_REQUEST")


def test_the_project_body_carries_its_allowlist(admin_client, make_project):
    make_project("demo")
    body = {"cve_allowlist": {"items": [{"cve_id": "CVE-9"}], "expires_at": None}}
    assert admin_client.put("/api/v2.0/projects/demo", body, format="json").status_code == 200
    got = admin_client.get("/api/v2.0/projects/demo")
    assert_matches("getProject", got, 200)
    assert got.json()["cve_allowlist"]["items"] == [{"cve_id": "CVE-9"}]


def test_an_sbom_is_pushed_as_an_accessory_and_pulled_back(
    registered,
    adapter_process,
    admin_client,
    make_project,
    distribution,
    django_capture_on_commit_callbacks,
):
    make_project("demo")
    push_image("admin", "demo/app", "v1")
    artifact = Tag.objects.get(name="v1").artifact
    adapter_process.configure(findings={artifact.digest: [finding("CVE-1", "High")]})
    response = scan(
        admin_client, artifact, django_capture_on_commit_callbacks, {"scan_type": "sbom"}
    )
    assert response.status_code == 202
    report = ScanReport.objects.get(artifact=artifact, mime_type=adapter.SBOM_REPORT)
    assert report.status == ReportStatus.SUCCESS, report.status_message
    sbom = Artifact.objects.get(subject_digest=artifact.digest)
    assert sbom.digest == report.sbom_digest
    assert sbom.artifact_type == scans.SBOM_ARTIFACT_TYPE
    accessories = admin_client.get(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1/accessories"
    )
    assert_matches("listAccessories", accessories, 200)
    assert [a["type"] for a in accessories.json()] == ["harbor.sbom"]
    detail = admin_client.get(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1?with_sbom_overview=true"
    )
    assert_matches("getArtifact", detail, 200)
    assert detail.json()["sbom_overview"]["sbom_digest"] == sbom.digest
    token = bearer("admin", "demo/app", {"pull"})
    pulled = get(
        f"/v2/demo/app/manifests/{sbom.digest}",
        token,
        HTTP_ACCEPT="application/vnd.oci.image.manifest.v1+json",
    )
    assert pulled.status_code == 200
    manifest = json.loads(pulled.content)
    assert manifest["subject"]["digest"] == artifact.digest
    layer = manifest["layers"][0]
    blob = upstream.request(
        "GET", "demo/app", f"/v2/demo/app/blobs/{layer['digest']}", frozenset({"pull"})
    )
    assert json.loads(blob.content)["spdxVersion"] == "SPDX-2.3"


def test_security_hub_and_the_cve_export(
    registered, adapter_process, admin_client, make_project, django_capture_on_commit_callbacks
):
    project = make_project("demo")
    artifact = registry_data.image(project, "app", "v1")
    adapter_process.configure(
        findings={
            artifact.digest: [finding("CVE-1", "Critical", fixed="2"), finding("CVE-2", "Low")]
        }
    )
    scan(admin_client, artifact, django_capture_on_commit_callbacks)
    summary = admin_client.get(
        "/api/v2.0/security/summary?with_dangerous_cve=true&with_dangerous_artifact=true"
    )
    assert_matches("getSecuritySummary", summary, 200)
    body = summary.json()
    assert (body["critical_cnt"], body["low_cnt"], body["total_vuls"]) == (1, 1, 2)
    assert body["scanned_cnt"] == 1 and body["fixable_cnt"] == 1
    assert body["dangerous_cves"][0]["cve_id"] == "CVE-1"
    assert body["dangerous_artifacts"][0]["digest"] == artifact.digest
    vul = admin_client.get("/api/v2.0/security/vul?q=severity=Critical&with_tag=true")
    assert_matches("ListVulnerabilities", vul, 200)
    assert [(v["cve_id"], v["tags"]) for v in vul.json()] == [("CVE-1", ["v1"])]

    with django_capture_on_commit_callbacks(execute=True):
        started = admin_client.post(
            "/api/v2.0/export/cve",
            {"projects": [project.pk], "job_name": "x"},
            format="json",
            HTTP_X_SCAN_DATA_TYPE=VULN,
        )
    assert_matches("exportScanData", started, 200)
    execution_id = started.json()["id"]
    executions = admin_client.get("/api/v2.0/export/cve/executions")
    assert_matches("getScanDataExportExecutionList", executions, 200)
    one = admin_client.get(f"/api/v2.0/export/cve/execution/{execution_id}")
    assert_matches("getScanDataExportExecution", one, 200)
    assert one.json()["status"] == "Success" and one.json()["file_present"] is True
    csv_body = admin_client.get(f"/api/v2.0/export/cve/download/{execution_id}")
    assert csv_body.status_code == 200 and csv_body["Content-Type"].startswith("text/csv")
    lines = csv_body.content.decode().splitlines()
    assert lines[0].startswith("Project,Repository,Digest") and len(lines) == 3
    assert any("CVE-1" in line and "Critical" in line for line in lines)
    # downloaded: the CSV and its execution are deleted, as Harbor does
    again = admin_client.get(f"/api/v2.0/export/cve/download/{execution_id}")
    assert_harbor_error(again, 404, "NOT_FOUND")
    assert not Execution.objects.filter(pk=execution_id).exists()
    assert admin_client.get("/api/v2.0/export/cve/executions").json()["items"] == []


def test_an_export_not_downloaded_is_deleted_after_its_retention(
    registered, admin_client, make_project, django_capture_on_commit_callbacks, settings
):
    """Harbor deletes its export system artifacts 24 h old (a daily cleanup); here a
    periodic task deletes the CSVs past HARBOR["SCAN_EXPORT_RETENTION_SECONDS"]."""
    from django_celery_beat.models import PeriodicTask

    from scanning import exports, tasks

    project = make_project("demo")
    ids = []
    for _ in range(2):
        with django_capture_on_commit_callbacks(execute=True):
            started = admin_client.post(
                "/api/v2.0/export/cve", {"projects": [project.pk]}, format="json"
            )
        ids.append(started.json()["id"])
    old, recent = ids
    now = timezone.now()
    Execution.objects.filter(pk=old).update(end_time=now - timedelta(hours=25))
    Execution.objects.filter(pk=recent).update(end_time=now - timedelta(hours=23))
    assert tasks.purge_exports() == 1
    gone = admin_client.get(f"/api/v2.0/export/cve/execution/{old}")
    assert gone.json()["file_present"] is False  # the execution stays, its file is gone
    assert admin_client.get(f"/api/v2.0/export/cve/download/{old}").status_code == 404
    kept = admin_client.get(f"/api/v2.0/export/cve/execution/{recent}")
    assert kept.json()["file_present"] is True
    settings.HARBOR = {**settings.HARBOR, "SCAN_EXPORT_RETENTION_SECONDS": 3600}
    assert exports.purge_expired() == 1
    assert PeriodicTask.objects.get(name="harbor: purge CVE exports").task == (
        "scanning.tasks.purge_exports"
    )


# --- platform start, addition links, health, internal address ---------------------------


@pytest.mark.parametrize("builtin", ["http://127.0.0.1:9998", ""])
def test_platform_prepare_registers_the_builtin_scanner(
    db, settings, monkeypatch, tmp_path, builtin
):
    """`manage.py platform prepare` (so run and up) registers HARBOR["BUILTIN_SCANNER_URL"]
    as the default scanner, and registers nothing when it is not set."""
    from harbor_py.management.commands import platform as platform_command

    steps: list[str] = []
    monkeypatch.setattr(platform_command, "call_command", lambda name, **_: steps.append(name))
    settings.HARBOR = {**settings.HARBOR, "BUILTIN_SCANNER_URL": builtin}
    runtime = dataclasses.replace(settings.RUNTIME, data_dir=tmp_path)
    platform_command.Command().prepare(runtime, migrate=True)
    assert steps == ["migrate", "collectstatic"]
    if builtin:
        [scanner] = Scanner.objects.all()
        assert (scanner.url, scanner.is_default) == (builtin, True)
    else:
        assert not Scanner.objects.exists()


def vulnerabilities_link(digest: str, repository: str = "app") -> dict:
    return {
        "href": f"/api/v2.0/projects/demo/repositories/{repository}/artifacts/{digest}"
        "/additions/vulnerabilities",
        "absolute": False,
    }


def test_scannable_artifacts_link_their_vulnerabilities(
    registered, admin_client, make_project, django_capture_on_commit_callbacks
):
    project = make_project("demo")
    child = registry_data.image(project, "app", "v1")
    multi = registry_data.index(project, "app", "multi", [child])
    detail = admin_client.get("/api/v2.0/projects/demo/repositories/app/artifacts/v1")
    assert_matches("getArtifact", detail, 200)
    links = detail.json()["addition_links"]
    assert links["vulnerabilities"] == vulnerabilities_link(child.digest)
    assert "build_history" in links
    listed = admin_client.get("/api/v2.0/projects/demo/repositories/app/artifacts")
    assert_matches("listArtifacts", listed, 200)
    by_digest = {a["digest"]: a["addition_links"] for a in listed.json()}
    assert by_digest[multi.digest] == {"vulnerabilities": vulnerabilities_link(multi.digest)}
    # no scanner for the project: no link (Harbor's IsScannable)
    url = f"/api/v2.0/scanners/{registered.uuid}"
    body = {"name": registered.name, "url": registered.url, "disabled": True}
    with django_capture_on_commit_callbacks(execute=True):  # the change bumps the generation
        assert admin_client.put(url, body, format="json").status_code == 200
    plain = admin_client.get("/api/v2.0/projects/demo/repositories/app/artifacts/v1")
    assert "vulnerabilities" not in plain.json()["addition_links"]
    assert "build_history" in plain.json()["addition_links"]


def test_x_accept_vulnerabilities_chooses_the_report_type(
    registered, adapter_process, admin_client, make_project, django_capture_on_commit_callbacks
):
    project = make_project("demo")
    artifact = registry_data.image(project, "app", "v1")
    adapter_process.configure(findings={artifact.digest: [finding("CVE-1", "High")]})
    scan(admin_client, artifact, django_capture_on_commit_callbacks)
    assert report_of(artifact).status == ReportStatus.SUCCESS
    url = "/api/v2.0/projects/demo/repositories/app/artifacts/v1/additions/vulnerabilities"
    default = admin_client.get(url)
    assert list(default.json()) == [VULN]
    assert default.json()[VULN]["vulnerabilities"][0]["id"] == "CVE-1"
    only_v10 = admin_client.get(url, HTTP_X_ACCEPT_VULNERABILITIES=adapter.VULN_REPORT_V10)
    assert only_v10.status_code == 200 and only_v10.json() == {}
    both = admin_client.get(
        url,
        HTTP_X_ACCEPT_VULNERABILITIES=f"{adapter.VULN_REPORT_V10},{VULN.replace(' ', '')}",
    )
    assert list(both.json()) == [VULN]
    unknown = admin_client.get(url, HTTP_X_ACCEPT_VULNERABILITIES="text/plain")
    assert list(unknown.json()) == [VULN]  # nothing known named: both types, as Harbor


def test_the_project_scanner_reports_its_health(
    registered, adapter_process, admin_client, make_project
):
    make_project("demo")
    healthy = admin_client.get("/api/v2.0/projects/demo/scanner")
    assert_matches("getScannerOfProject", healthy, 200)
    assert healthy.json()["health"] == "healthy"
    assert healthy.json()["adapter"] == "TestScanner"
    adapter_process.configure(mode="bad_metadata")
    sick = admin_client.get("/api/v2.0/projects/demo/scanner")
    assert_matches("getScannerOfProject", sick, 200)
    assert sick.json()["health"] == "unhealthy"


@pytest.mark.parametrize("internal", [True, False])
def test_use_internal_addr_gives_the_adapter_the_internal_registry_address(
    registered,
    adapter_process,
    admin_client,
    make_project,
    django_capture_on_commit_callbacks,
    settings,
    internal,
):
    settings.HARBOR = {
        **settings.HARBOR,
        "EXTERNAL_URL": "https://registry.example.org",
        "INTERNAL_URL": "http://10.1.2.3:8080",
    }
    Scanner.objects.filter(pk=registered.pk).update(use_internal_addr=internal)
    project = make_project("demo")
    artifact = registry_data.image(project, "app", "v1")
    scan(admin_client, artifact, django_capture_on_commit_callbacks)
    assert report_of(artifact).status == ReportStatus.SUCCESS
    sent = adapter_process.requests()[-1]["body"]["registry"]["url"]
    assert sent == ("http://10.1.2.3:8080" if internal else "https://registry.example.org")


@pytest.mark.parametrize("window", [4, 1])
def test_an_index_scans_its_children_concurrently_within_the_window(
    registered,
    adapter_process,
    admin_client,
    make_project,
    django_capture_on_commit_callbacks,
    settings,
    window,
):
    """Up to HARBOR["SCAN_IN_FLIGHT"] children are at the adapter at once: the second
    child's request goes out before the first child's report is in; one at a time with 1."""
    settings.HARBOR = {**settings.HARBOR, "SCAN_IN_FLIGHT": window}
    adapter_process.configure(polls=2)
    project = make_project("demo")
    amd = registry_data.image(project, "app", None)
    arm = registry_data.image(project, "app", None, architecture="arm64")
    index = registry_data.index(project, "app", "multi", [amd, arm])
    assert scan(admin_client, index, django_capture_on_commit_callbacks).status_code == 202
    first, second = sorted((report_of(amd), report_of(arm)), key=lambda r: r.start_time)
    assert {first.status, second.status} == {ReportStatus.SUCCESS}
    if window > 1:
        assert second.start_time < first.end_time
    else:
        assert second.start_time >= first.end_time


@dataclasses.dataclass
class Polling:
    """Scans whose adapter takes its time, run as a worker runs them (not inline): a job
    message sent without a countdown is delivered at once; one sent with a countdown (a
    retry) is held in `held` until the test delivers it."""

    adapter: AdapterProcess
    project: object
    held: list[tuple[tuple, float]]
    scan: object  # (artifact) -> the response of POST .../scan, its on_commit run

    def countdown_over(self, artifact) -> None:
        """The next poll of the artifact's scan, and its task's retry, are due."""
        from jobs.models import Task

        past = timezone.now() - timedelta(seconds=1)
        reports = ScanReport.objects.filter(artifact=artifact)
        reports.update(poll_due=past)
        Task.objects.filter(pk__in=reports.values("task_id")).update(heartbeat=past)

    def deliver(self, message: tuple[tuple, float]) -> None:
        from jobs import runner

        runner.run(*message[0])


@pytest.fixture
def polling(
    registered,
    adapter_process,
    admin_client,
    make_project,
    django_capture_on_commit_callbacks,
    settings,
    monkeypatch,
):
    from jobs import runner

    settings.HARBOR = {**settings.HARBOR, "SCAN_MAX_POLL_SECONDS": 30, "SCAN_TIMEOUT_SECONDS": 600}
    held: list[tuple[tuple, float]] = []

    def apply_async(args=(), kwargs=None, countdown=None, **_):
        if countdown:
            held.append((tuple(args), countdown))
        else:
            runner.run(*args)

    monkeypatch.setattr(runner, "countdowns_wait", lambda: True)
    monkeypatch.setattr(runner.run_task, "apply_async", apply_async)
    return Polling(
        adapter=adapter_process,
        project=make_project("demo"),
        held=held,
        scan=lambda artifact: scan(admin_client, artifact, django_capture_on_commit_callbacks),
    )


def test_a_scan_frees_its_worker_slot_while_the_adapter_scans(polling):
    """The adapter says Refresh-After 5 twice: the job does not wait in its worker slot; it
    polls once and asks to be run again in 5 s (RetryLater): its task waits Pending, due
    then, and no run holds it. Each run polls once and asks again, until the report is in
    and the run finishes the task and its execution. A copy of a message that comes before
    the retry is due, or after the task ended, does nothing."""
    import time

    from jobs.models import Task

    polling.adapter.configure(
        polls=2, refresh_after="5", findings={"*": [finding("CVE-9", "High")]}
    )
    artifact = registry_data.image(polling.project, "app", "v1")
    started = time.monotonic()
    assert polling.scan(artifact).status_code == 202
    assert time.monotonic() - started < 4  # waiting in the job would take 10 s
    task = Task.objects.get(execution__vendor_type="IMAGE_SCAN")
    assert (task.status, task.worker, task.execution.status) == ("Pending", "", "Running")
    assert timezone.now() < task.heartbeat <= timezone.now() + timedelta(seconds=5)
    assert task.extra_attrs == {"progress": 0, "retries": 1}
    report = report_of(artifact)
    assert (report.status, report.polls) == (ReportStatus.RUNNING, 1) and report.request_id
    [(args, countdown)] = polling.held
    assert args == (task.pk,) and 4 <= countdown <= 5

    polling.deliver(polling.held[0])  # early (a duplicate): not due yet
    assert report_of(artifact).polls == 1 and len(polling.held) == 1

    polling.countdown_over(artifact)
    polling.deliver(polling.held[0])  # second poll: still 302, asks again
    polling.deliver(polling.held[0])  # the same message twice: the retry it was for ran
    assert report_of(artifact).polls == 2 and len(polling.held) == 2
    assert Task.objects.get(pk=task.pk).status == "Pending"
    polling.countdown_over(artifact)
    polling.deliver(polling.held[-1])  # the report is in
    report = report_of(artifact)
    assert report.status == ReportStatus.SUCCESS and report.summary["total"] == 1
    task.refresh_from_db()
    assert task.status == "Success" and task.execution.status == "Success"
    assert task.run_count == 3 and task.extra_attrs == {"progress": 100, "retries": 2}
    polling.deliver(polling.held[0])  # a late copy: the task is over
    assert report_of(artifact).status == ReportStatus.SUCCESS and len(polling.held) == 2


def test_a_waiting_scan_stops_at_once_and_past_its_deadline_ends_in_error(polling, admin_client):
    """A stop while the scan waits for its next poll, through the scan API or the job
    service's, ends the task, the execution and the reports at once (no message needed);
    its pending message then does nothing. The deadline is kept across runs."""
    from jobs.models import Task

    polling.adapter.configure(mode="slow", refresh_after="20")
    first, second, third = (
        registry_data.image(polling.project, "app", tag) for tag in ("v1", "v2", "v3")
    )
    for artifact in (first, second, third):
        assert polling.scan(artifact).status_code == 202
    assert len(polling.held) == 3

    stop = admin_client.post(
        "/api/v2.0/projects/demo/repositories/app/artifacts/v1/scan/stop", format="json"
    )
    assert stop.status_code == 202
    assert report_of(first).status == ReportStatus.STOPPED
    task = Task.objects.select_related("execution").get(execution__vendor_id=first.pk)
    assert (task.status, task.execution.status) == ("Stopped", "Stopped")
    third_task = Task.objects.get(execution__vendor_id=third.pk)
    assert admin_client.put(f"/api/v2.0/jobservice/jobs/{third_task.pk}").status_code == 200
    assert report_of(third).status == ReportStatus.STOPPED
    assert Task.objects.get(pk=third_task.pk).status == "Stopped"
    polling.countdown_over(first)
    polling.deliver(polling.held[0])
    assert (report_of(first).status, report_of(first).polls) == (ReportStatus.STOPPED, 1)
    assert len(polling.held) == 3

    # past the deadline, the run ends the scan in an error
    polling.countdown_over(second)
    ScanReport.objects.filter(artifact=second).update(
        poll_deadline=timezone.now() + timedelta(seconds=5)
    )
    polling.deliver(polling.held[1])
    report = report_of(second)
    assert report.status == ReportStatus.ERROR
    assert "did not finish the scan within 600 s" in report.status_message
    assert Task.objects.get(execution__vendor_id=second.pk).status == "Error"


def test_a_lost_step_is_sent_again(polling):
    """The message of a waiting scan's retry was lost (a broker failover): jobs' orphan
    sweep sends it again once it is STALE_SECONDS overdue, and only then."""
    from jobs import lease
    from jobs import tasks as job_tasks
    from jobs.models import Task

    polling.adapter.configure(mode="slow", refresh_after="20")
    artifact = registry_data.image(polling.project, "app", "v1")
    assert polling.scan(artifact).status_code == 202
    polling.held.clear()
    job_tasks.resume_orphaned_tasks()
    assert report_of(artifact).polls == 1 and polling.held == []
    long_ago = timezone.now() - timedelta(seconds=lease.STALE_SECONDS + 5)
    ScanReport.objects.filter(artifact=artifact).update(poll_due=long_ago)
    Task.objects.update(heartbeat=long_ago)
    job_tasks.resume_orphaned_tasks()  # sent at once, so run here
    assert report_of(artifact).polls == 2 and len(polling.held) == 1
    assert Task.objects.get().status == "Pending"


def test_a_scan_deferred_by_the_old_code_goes_on_as_a_retry(polling):
    """Upgrades: a scan that the code before RetryLater deferred (its task Running with no
    worker, a `scanning.tasks.continue_scan` message on its way) goes on when that message
    comes, and scanning/0004 turns it into a retry that jobs' orphan sweep sends."""
    import importlib

    from django.apps import apps

    from jobs import lease
    from jobs.models import Task
    from scanning import tasks

    polling.adapter.configure(mode="slow", refresh_after="20")
    artifact = registry_data.image(polling.project, "app", "v1")
    assert polling.scan(artifact).status_code == 202
    task = Task.objects.get()

    def deferred_by_the_old_code() -> None:
        Task.objects.filter(pk=task.pk).update(
            status="Running", worker="", heartbeat=timezone.now(), extra_attrs={}
        )

    deferred_by_the_old_code()
    tasks.continue_scan(task.pk, task.run_count + 1)  # not the run that deferred
    assert report_of(artifact).polls == 1
    polling.countdown_over(artifact)
    deferred_by_the_old_code()
    tasks.continue_scan(task.pk, task.run_count)
    assert report_of(artifact).polls == 2 and len(polling.held) == 2
    assert Task.objects.get().extra_attrs["retries"] == 2

    deferred_by_the_old_code()
    migration = importlib.import_module("scanning.migrations.0004_polls_as_retries")
    migration.deferred_to_retries(apps, None)
    assert Task.objects.get().status == "Pending"
    assert lease.orphaned_task_ids() == [task.pk]


def test_ensure_default_scanner_stores_the_builtin_token_encrypted_and_follows_it(db):
    services.ensure_default_scanner(name="builtin", url="http://127.0.0.1:9998", token="t-1")
    [only] = Scanner.objects.all()
    assert (only.auth, only.access_credential) == ("Bearer", "t-1")
    assert "t-1" not in only.access_credential_encrypted
    services.ensure_default_scanner(name="builtin", url="http://127.0.0.1:9998", token="t-2")
    assert Scanner.objects.get().access_credential == "t-2"
