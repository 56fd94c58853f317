"""prevent_vul at the /v2 gate (scanning.policy through registry.pull_policy): Harbor's
412 with the count in the message, severities, the system and project allowlists with
expiry, not-yet-scanned artifacts allowed, and no query on a pull while the policy is off."""

from __future__ import annotations

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from harbor_py.core.actor import Actor
from registry.models import Tag
from scanning import adapter, cache, services
from scanning.models import ReportStatus, Scanner, ScanReport, Vulnerability
from tests.distribution import bearer, push_image
from tests.integration.test_registry_gate import get, oci_error

pytest_plugins = ["tests.distribution_plugin"]
ADMIN = Actor(username="admin")


def reported(artifact, scanner, findings: list[tuple[str, str]], status=ReportStatus.SUCCESS):
    report = ScanReport.objects.create(
        artifact=artifact,
        digest=artifact.digest,
        registration_uuid=scanner.uuid,
        mime_type=adapter.VULN_REPORT,
        status=status,
    )
    Vulnerability.objects.bulk_create(
        Vulnerability(report=report, cve_id=cve, package="p", severity=severity)
        for cve, severity in findings
    )
    cache.forget_artifacts([artifact.pk])
    return report


@pytest.fixture
def pushed(make_user, make_project, distribution):
    owner = make_user("owner")
    project = make_project("demo", owner=owner, members={})
    push_image("owner", "demo/app", "v1")
    artifact = Tag.objects.get(name="v1").artifact
    scanner = Scanner.objects.create(name="s", url="http://127.0.0.1:9", is_default=True)
    cache.bump()
    return project, artifact, scanner, bearer("owner", "demo/app", {"pull"})


def policy(project, **metadata):
    project.metadata = metadata
    project.save()


def test_a_vulnerable_artifact_is_refused_with_the_count(pushed):
    project, artifact, scanner, token = pushed
    reported(artifact, scanner, [("CVE-1", "Critical"), ("CVE-2", "High"), ("CVE-3", "Low")])
    assert get("/v2/demo/app/manifests/v1", token).status_code == 200  # policy off
    policy(project, prevent_vul="true", severity="high")
    error = oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")
    assert error is not None
    assert error["message"].startswith('current image with "2 vulnerabilities" cannot be pulled')
    assert 'severity of "High" or higher' in error["message"]
    policy(project, prevent_vul="true", severity="critical")
    error = oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")
    assert error is not None and '"1 vulnerabilities"' in error["message"]


def test_admins_and_robots_are_not_exempt_but_the_scanner_token_is(pushed, make_user):
    project, artifact, scanner, _ = pushed
    make_user("root", sysadmin=True)
    reported(artifact, scanner, [("CVE-1", "Critical")])
    policy(project, prevent_vul="true", severity="low")
    for subject in ("root", "robot$demo+ci", "harbor-scanner-0123456789abcdef"):
        token = bearer(subject, "demo/app", {"pull"})
        oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")
    cache.remember_scanner_subject("harbor-scanner-0123456789abcdef", 60)
    token = bearer("harbor-scanner-0123456789abcdef", "demo/app", {"pull"})
    assert get("/v2/demo/app/manifests/v1", token).status_code == 200


def test_allowlists_lift_the_refusal_until_they_expire(pushed, django_capture_on_commit_callbacks):
    project, artifact, scanner, token = pushed

    def allow(target, items, expires_at=None):
        data = {"items": [{"cve_id": cve} for cve in items], "expires_at": expires_at}
        with django_capture_on_commit_callbacks(execute=True):
            services.set_allowlist(project=target, data=data, actor=ADMIN)

    reported(artifact, scanner, [("CVE-1", "Critical"), ("CVE-2", "High")])
    policy(project, prevent_vul="true", severity="low")
    oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")
    allow(None, ["CVE-1"])
    error = oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")
    assert error is not None and '"1 vulnerabilities"' in error["message"]
    allow(None, ["CVE-1", "CVE-2"])
    assert get("/v2/demo/app/manifests/v1", token).status_code == 200
    # the project's own list counts once it stops reusing the system's
    policy(project, prevent_vul="true", severity="low", reuse_sys_cve_allowlist="false")
    oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")
    allow(project, ["CVE-1", "CVE-2"])
    assert get("/v2/demo/app/manifests/v1", token).status_code == 200
    allow(project, ["CVE-1", "CVE-2"], expires_at=int(time.time()) - 10)
    oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")


@pytest.mark.parametrize("status", [None, ReportStatus.RUNNING, ReportStatus.ERROR])
def test_an_artifact_without_a_successful_report_is_pulled(pushed, status):
    project, artifact, scanner, token = pushed
    if status is not None:
        reported(artifact, scanner, [("CVE-1", "Critical")], status=status)
    policy(project, prevent_vul="true", severity="low")
    assert get("/v2/demo/app/manifests/v1", token).status_code == 200


def test_the_check_costs_no_query_when_off_and_when_cached(pushed):
    project, artifact, scanner, token = pushed
    reported(artifact, scanner, [("CVE-1", "Low")])
    get("/v2/demo/app/manifests/v1", token)  # warm the gate's own caches
    with CaptureQueriesContext(connection) as off:
        assert get("/v2/demo/app/manifests/v1", token).status_code == 200
    policy(project, prevent_vul="true", severity="high")
    get("/v2/demo/app/manifests/v1", token)  # fills the policy cache
    with CaptureQueriesContext(connection) as on:
        assert get("/v2/demo/app/manifests/v1", token).status_code == 200
    assert len(on.captured_queries) == len(off.captured_queries), on.captured_queries
