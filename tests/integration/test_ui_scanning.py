"""Scanning in the UI: the severity bar in the artifact list, the vulnerabilities and SBOM
cards with the scan button on the artifact page, the interrogation services page, the
security hub (with the CVE export), the project's CVE allowlist and scanner, the stop
button of scan all; in English and 简体中文."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import Execution
from projects.models import ProjectMember
from projects.roles import Role
from registry.models import Artifact
from scanning import adapter
from scanning.models import (
    CVEAllowlist,
    ProjectScanner,
    ReportStatus,
    Scanner,
    ScanReport,
    Vulnerability,
)
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db


def signed(user, language: str = "en") -> Client:
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def url(artifact: Artifact, tail: str = "") -> str:
    project, path = artifact.repository.name.split("/", 1)
    return f"/projects/{project}/repositories/{path}/-/artifacts/{artifact.digest}{tail}"


@pytest.fixture
def scanned(make_user, make_project):
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    artifact = image(project, "app", "v1")
    scanner = Scanner.objects.create(
        name="s",
        url="http://127.0.0.1:9",
        is_default=True,
        metadata_time=timezone.now(),
        metadata={
            "scanner": {"name": "S", "vendor": "", "version": ""},
            "capabilities": [
                {
                    "type": "vulnerability",
                    "consumes_mime_types": [artifact.manifest_media_type],
                    "produces_mime_types": [adapter.VULN_REPORT],
                }
            ],
            "properties": {},
        },
    )
    report = ScanReport.objects.create(
        artifact=artifact,
        digest=artifact.digest,
        registration_uuid=scanner.uuid,
        mime_type=adapter.VULN_REPORT,
        status=ReportStatus.SUCCESS,
        summary={
            "total": 2,
            "fixable": 1,
            "summary": {"Critical": 1, "Low": 1},
            "severity": "Critical",
        },
        report={
            "vulnerabilities": [
                {
                    "id": "CVE-2026-1111",
                    "package": "openssl",
                    "version": "1",
                    "fix_version": "2",
                    "severity": "Critical",
                    "links": ["https://example.org/1"],
                },
                {"id": "CVE-2026-2222", "package": "zlib", "version": "1", "severity": "Low"},
            ]
        },
    )
    Vulnerability.objects.create(
        report=report,
        cve_id="CVE-2026-1111",
        package="openssl",
        severity="Critical",
        cvss_v3_score=9.8,
    )
    return owner, artifact


def test_the_list_shows_the_severity_bar_and_the_page_the_findings(scanned):
    owner, artifact = scanned
    listing = signed(owner).get("/projects/demo/repositories/app/").content.decode()
    assert 'class="sev sev-critical">1 Critical' in listing
    page = signed(owner).get(url(artifact)).content.decode()
    assert "CVE-2026-1111" in page and "CVE-2026-2222" in page
    assert page.index("CVE-2026-1111") < page.index("CVE-2026-2222")  # worst first
    assert 'id="sbom"' in page and url(artifact, "/scan") in page
    zh = signed(owner, "zh-hans").get(url(artifact)).content.decode()
    assert "漏洞" in zh and "扫描" in zh


def test_the_scan_button_starts_a_scan(scanned):
    owner, artifact = scanned
    response = signed(owner).post(url(artifact, "/scan"))
    assert response.status_code == 302
    assert Execution.objects.filter(vendor_type="IMAGE_SCAN", vendor_id=artifact.pk).exists()


def test_admin_pages(scanned, make_user):
    admin = make_user("root", sysadmin=True)
    client = signed(admin)
    page = client.get("/admin/scanners").content.decode()
    assert "http://127.0.0.1:9" in page
    response = client.post(
        "/admin/scanners", {"action": "register", "name": "two", "url": "http://127.0.0.1:8"}
    )
    assert response.status_code == 302 and Scanner.objects.filter(name="two").exists()
    client.post("/admin/scanners", {"action": "allowlist", "items": "CVE-1, CVE-2"})
    assert CVEAllowlist.objects.get(project=None).items == ["CVE-1", "CVE-2"]
    hub = client.get("/admin/security").content.decode()
    assert "CVE-2026-1111" in hub
    owner, _ = scanned
    assert signed(owner).get("/admin/scanners").status_code == 403


def test_project_allowlist_form(scanned):
    owner, artifact = scanned
    page = signed(owner).get("/projects/demo/configuration").content.decode()
    assert "CVE allowlist" in page
    response = signed(owner).post(
        "/projects/demo/cve-allowlist", {"items": "CVE-9", "reuse_system": ""}
    )
    assert response.status_code == 302
    project = artifact.repository.project
    project.refresh_from_db()
    assert CVEAllowlist.objects.get(project=project).items == ["CVE-9"]
    assert project.metadata["reuse_sys_cve_allowlist"] == "false"


def test_the_project_picks_its_scanner(scanned, make_user):
    owner, artifact = scanned
    project = artifact.repository.project
    other = Scanner.objects.create(name="other-scanner", url="http://127.0.0.1:7")
    page = signed(owner).get("/projects/demo/configuration").content.decode()
    assert 'id="project-scanner-uuid"' in page and "other-scanner" in page
    zh = signed(owner, "zh-hans").get("/projects/demo/configuration").content.decode()
    assert "漏洞扫描器" in zh and "使用此扫描器" in zh
    response = signed(owner).post("/projects/demo/scanner", {"uuid": other.uuid})
    assert response.status_code == 302
    assert ProjectScanner.objects.get(project=project).scanner == other
    guest = make_user("guest")
    ProjectMember.objects.create(project=project, user=guest, role=Role.GUEST)
    assert (
        'id="project-scanner-uuid"'
        not in signed(guest).get("/projects/demo/configuration").content.decode()
    )
    assert signed(guest).post("/projects/demo/scanner", {"uuid": other.uuid}).status_code == 403


def test_scan_all_can_be_stopped_from_the_page(scanned, make_user):
    admin = make_user("root", sysadmin=True)
    client = signed(admin)
    running = Execution.objects.create(vendor_type="SCAN_ALL", status="Running", trigger="MANUAL")
    page = client.get("/admin/scanners").content.decode()
    assert 'value="stop_scan_all"' in page
    assert client.post("/admin/scanners", {"action": "stop_scan_all"}).status_code == 302
    running.refresh_from_db()
    assert running.stop_requested


def test_the_security_hub_exports_cves(scanned, make_user, django_capture_on_commit_callbacks):
    _owner, artifact = scanned
    admin = make_user("root", sysadmin=True)
    client = signed(admin)
    project = artifact.repository.project
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/admin/security", {"project": project.pk})
    assert response.status_code == 302
    hub = client.get("/admin/security").content.decode()
    execution = Execution.objects.get(vendor_type="SCAN_DATA_EXPORT")
    link = f"/admin/security/exports/{execution.pk}/csv"
    assert 'id="cve-exports"' in hub and link in hub
    csv_file = client.get(link)
    assert csv_file.status_code == 200 and "CVE-2026-1111" in csv_file.content.decode()
    assert client.get(link).status_code == 404  # deleted once downloaded, as Harbor
    zh = signed(admin, "zh-hans").get("/admin/security").content.decode()
    assert "导出 CVE" in zh


def test_the_sbom_card_summarises_the_sbom_and_offers_it(scanned):
    owner, artifact = scanned
    scanner = Scanner.objects.get(name="s")
    document = {
        "spdxVersion": "SPDX-2.3",
        "creationInfo": {"created": "2026-12-01T00:00:00Z"},
        "packages": [{"name": "openssl"}, {"name": "zlib"}, {"name": "musl"}],
    }
    ScanReport.objects.create(
        artifact=artifact,
        digest=artifact.digest,
        registration_uuid=scanner.uuid,
        mime_type=adapter.SBOM_REPORT,
        status=ReportStatus.SUCCESS,
        report={"media_type": adapter.SPDX, "sbom": document},
        sbom_digest="sha256:" + "b" * 64,
    )
    page = signed(owner).get(url(artifact)).content.decode()
    card = page[page.index('id="sbom"') :]
    assert "SPDX-2.3" in card and "<dd>3</dd>" in card
    assert url(artifact, "/sbom.json") in card
    zh = signed(owner, "zh-hans").get(url(artifact)).content.decode()
    assert "组件" in zh and "下载 SBOM" in zh
    download = signed(owner).get(url(artifact, "/sbom.json"))
    assert download.status_code == 200
    assert download["Content-Type"].startswith(adapter.SPDX)
    assert json.loads(download.content) == document
    ScanReport.objects.filter(mime_type=adapter.SBOM_REPORT).delete()
    assert signed(owner).get(url(artifact, "/sbom.json")).status_code == 404
    assert "sbom-contents" not in signed(owner).get(url(artifact)).content.decode()


def _scanner_queries(captured) -> list[str]:
    return [
        q["sql"]
        for q in captured
        if '"scanner_project"' in q["sql"] or '"scanner_registration"' in q["sql"]
    ]


@pytest.mark.parametrize("own_scanner", [False, True], ids=["default", "project's own"])
def test_the_artifact_page_looks_the_scanner_up_once(
    scanned, own_scanner, django_assert_max_num_queries
):
    """#28: the scanning cards looked the project's scanner up four times (p95 122-129 ms);
    one lookup (two queries when the project falls back to the default) serves them all."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    owner, artifact = scanned
    if own_scanner:
        ProjectScanner.objects.create(
            project=artifact.repository.project, scanner=Scanner.objects.get(name="s")
        )
    client = signed(owner)
    client.get(url(artifact))  # warm the caches of the session and the settings
    with CaptureQueriesContext(connection) as captured:
        page = client.get(url(artifact))
    assert page.status_code == 200 and "CVE-2026-1111" in page.content.decode()
    assert len(_scanner_queries(captured)) <= (1 if own_scanner else 2), _scanner_queries(captured)
    # the whole page: 36 and 32 queries before (8 and 4 of them the scanner's), 28 and 27 now
    with django_assert_max_num_queries(27 if own_scanner else 28):
        client.get(url(artifact))
