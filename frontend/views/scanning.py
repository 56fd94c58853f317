"""Scanning in the UI: scan and stop on the artifact page, its vulnerabilities and SBOM,
the interrogation services page (scanners, scan all, its schedule, the system CVE
allowlist) and the security hub. Same services and selectors as the API (scanning/)."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from frontend.checked_forms import Check, ServiceChecked
from frontend.forms import refuse
from frontend.links import artifact_url
from frontend.refusals import Coded
from frontend.views.base import attempt, signed_in, sysadmin_only
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError
from jobs import services as job_services
from jobs.models import Schedule
from projects import services as project_services
from projects.models import Project
from projects.selectors import require_access_by_name
from registry import selectors as registry_selectors
from registry.models import Artifact
from scanning import exports, reports, scans, selectors, services
from scanning.models import Export, Scanner

SEVERITY_ORDER = ("Critical", "High", "Medium", "Low", "Negligible", "Unknown")


def severity_bar(overview: dict[str, Any] | None) -> dict[str, Any] | None:
    """What the severity bar shows: status, total, and the counts by severity, worst first."""
    if not overview:
        return None
    summary = overview.get("summary") or {}
    counts = summary.get("summary") or {}
    total = summary.get("total", 0)
    return {
        "status": overview.get("scan_status", ""),
        "severity": overview.get("severity", ""),
        "total": total,
        "fixable": summary.get("fixable", 0),
        "parts": [
            {"name": name, "count": counts[name], "percent": int(100 * counts[name] / total)}
            for name in SEVERITY_ORDER
            if counts.get(name)
        ]
        if total
        else [],
    }


def overview_bars(
    artifacts: list[Artifact], *, scanners: selectors.Scanners | None = None
) -> dict[int, dict[str, Any] | None]:
    found = selectors.scan_overviews(artifacts, scanners=scanners)
    return {pk: severity_bar(next(iter(by_mime.values()), None)) for pk, by_mime in found.items()}


def scan_context(access: Any, artifact: Artifact) -> dict[str, Any]:
    """The artifact page's vulnerabilities and SBOM cards (the project's scanner looked up
    once for all of them)."""
    scanners = selectors.scanners_of([access.project.pk])
    bar = overview_bars([artifact], scanners=scanners).get(artifact.pk)
    vulnerabilities = selectors.vulnerabilities(artifact, scanners=scanners)
    report: dict[str, Any] = next(iter(vulnerabilities.values()), {})
    findings = sorted(
        report.get("vulnerabilities") or [],
        key=lambda v: (-reports.RANK.get(v.get("severity", "Unknown"), 1), v.get("id", "")),
    )
    sbom = selectors.sbom_overviews([artifact]).get(artifact.pk)
    sbom_report = selectors.sbom_report(artifact, scanners=scanners)
    return {
        "sbom_contents": reports.sbom_contents(sbom_report.report) if sbom_report else None,
        "scan": bar,
        "findings": findings[:500],
        "findings_total": len(findings),
        "sbom": sbom,
        "scanner": scanners[access.project.pk],
        "scanning": scans.active_scan(artifact) is not None,
        "can_scan": access.can("scan", "create"),
        "can_stop": access.can("scan", "stop"),
        "can_sbom": access.can("sbom", "create"),
    }


def _artifact(
    request: HttpRequest, name: str, path: str, reference: str, resource: str, action: str
) -> Artifact:
    access = require_access_by_name(request.user, name, resource, action)
    repository = registry_selectors.repository_in(access.project, f"{name}/{path}")
    return registry_selectors.artifact_in(repository, reference)


@require_POST
@signed_in
def scan(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    scan_type = "sbom" if request.POST.get("scan_type") == "sbom" else "vulnerability"
    found = _artifact(
        request, name, path, reference, "sbom" if scan_type == "sbom" else "scan", "create"
    )
    if attempt(
        request,
        scans.start_scan,
        artifact=found,
        scan_type=scan_type,
        actor=Actor.of_request(request),
    ):
        messages.success(
            request, _("Scan started.") if scan_type != "sbom" else _("SBOM generation started.")
        )
    return redirect(artifact_url(found))


@require_POST
@signed_in
def scan_stop(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    found = _artifact(request, name, path, reference, "scan", "stop")
    if attempt(request, scans.stop_scan, artifact=found, actor=Actor.of_request(request)):
        messages.success(request, _("Scan stopped."))
    return redirect(artifact_url(found))


@signed_in
def sbom_download(request: HttpRequest, name: str, path: str, reference: str) -> HttpResponse:
    """The artifact's SBOM document (SPDX or CycloneDX JSON), as the scanner made it."""
    found = _artifact(request, name, path, reference, "artifact", "read")
    report = selectors.sbom_report(found)
    contents = reports.sbom_contents(report.report) if report else None
    if report is None or contents is None:
        raise Http404(_("This artifact has no SBOM."))
    _media_type, document = reports.sbom_document(report.report)
    suffix = "spdx" if contents["format"] == "SPDX" else "cyclonedx"
    response = HttpResponse(
        json.dumps(document, indent=2), content_type=f"{contents['media_type']}; charset=utf-8"
    )
    filename = f"sbom-{found.digest.removeprefix('sha256:')[:12]}.{suffix}.json"
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _scanner_name_free(name: str) -> None:
    if Scanner.objects.filter(name=name).exists():
        raise Coded("scanner.name_taken", Code.CONFLICT, name=name)


def _scanner_url_free(url: str) -> None:
    if Scanner.objects.filter(url=url.rstrip("/")).exists():
        raise Coded("scanner.url_taken", Code.CONFLICT, url=url)


class ScannerForm(ServiceChecked):
    """A registration: a taken name and a taken endpoint are shown at once, each next to
    its field (scanning.services refuses the first with one sentence for both)."""

    field_checks: ClassVar[dict[str, Check]] = {
        "name": _scanner_name_free,
        "url": _scanner_url_free,
    }

    name = forms.CharField(label=gettext_lazy("Name"), max_length=255)
    url = forms.URLField(label=gettext_lazy("Endpoint URL"), max_length=512, assume_scheme="http")
    description = forms.CharField(label=gettext_lazy("Description"), required=False)
    auth = forms.ChoiceField(
        label=gettext_lazy("Authorization"),
        required=False,
        choices=[
            ("", gettext_lazy("None")),
            ("Basic", "Basic"),
            ("Bearer", "Bearer"),
            ("X-ScannerAdapter-API-Key", "API key"),
        ],
    )
    access_credential = forms.CharField(
        label=gettext_lazy("Credential"), required=False, widget=forms.PasswordInput
    )


class ScheduleForm(forms.Form):
    type = forms.ChoiceField(
        label=gettext_lazy("Scan all schedule"),
        choices=[
            ("None", gettext_lazy("None")),
            ("Hourly", gettext_lazy("Hourly")),
            ("Daily", gettext_lazy("Daily")),
            ("Weekly", gettext_lazy("Weekly")),
            ("Custom", gettext_lazy("Custom")),
        ],
    )
    cron = forms.CharField(label=gettext_lazy("Cron (6 fields)"), required=False)


class AllowlistForm(forms.Form):
    items = forms.CharField(
        label=gettext_lazy("CVE IDs, one per line or comma-separated"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    expires_at = forms.IntegerField(
        label=gettext_lazy("Expires at (seconds since the epoch, empty: never)"), required=False
    )


def allowlist_data(form: AllowlistForm) -> dict[str, Any]:
    raw = form.cleaned_data["items"].replace(",", "\n")
    return {
        "items": [{"cve_id": line.strip()} for line in raw.splitlines() if line.strip()],
        "expires_at": form.cleaned_data["expires_at"],
    }


@signed_in
@sysadmin_only
def scanners(request: HttpRequest) -> HttpResponse:
    actor = Actor.of_request(request)
    form, schedule_form, allowlist_form = ScannerForm(), None, None
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "register":
            form = ScannerForm(request.POST)
            if form.is_valid():
                try:
                    services.register_scanner(data=form.cleaned_data, actor=actor)
                except DomainError as exc:
                    refuse(form, exc)
                else:
                    messages.success(request, _("Scanner registered."))
                    return redirect("ui:scanners")
        elif action in ("default", "delete", "toggle"):
            target = Scanner.objects.filter(uuid=request.POST.get("uuid", "")).first()
            if target is not None:
                if action == "default":
                    attempt(
                        request, services.set_default, scanner=target, is_default=True, actor=actor
                    )
                elif action == "delete":
                    attempt(request, services.delete_scanner, scanner=target, actor=actor)
                return redirect("ui:scanners")
        elif action == "stop_scan_all":
            if attempt(request, scans.stop_scan_all, actor=actor):
                messages.success(request, _("Scan all stopped."))
            return redirect("ui:scanners")
        elif action == "scan_all":
            if attempt(
                request,
                job_services.start_execution,
                vendor_type=scans.SCAN_ALL,
                parameters={},
                actor=actor,
            ):
                messages.success(request, _("Scan all started."))
            return redirect("ui:scanners")
        elif action == "schedule":
            schedule_form = ScheduleForm(request.POST)
            if schedule_form.is_valid() and attempt(
                request,
                job_services.set_schedule,
                vendor_type=scans.SCAN_ALL,
                type_=schedule_form.cleaned_data["type"],
                cron=schedule_form.cleaned_data["cron"],
                parameters={},
                actor=actor,
            ):
                messages.success(request, _("Schedule saved."))
                return redirect("ui:scanners")
        elif action == "allowlist":
            allowlist_form = AllowlistForm(request.POST)
            if allowlist_form.is_valid() and attempt(
                request,
                services.set_allowlist,
                project=None,
                data=allowlist_data(allowlist_form),
                actor=actor,
            ):
                messages.success(request, _("CVE allowlist saved."))
                return redirect("ui:scanners")
    schedule = Schedule.objects.filter(vendor_type=scans.SCAN_ALL).first()
    system_allowlist = selectors.allowlist_of(None)
    context = {
        "section": "scanners",
        "scanners": list(Scanner.objects.order_by("pk")),
        "form": form,
        "schedule_form": schedule_form
        or ScheduleForm(
            initial={
                "type": schedule.type if schedule else "None",
                "cron": schedule.cron if schedule else "",
            }
        ),
        "allowlist_form": allowlist_form
        or AllowlistForm(
            initial={
                "items": "\n".join(system_allowlist.items) if system_allowlist else "",
                "expires_at": system_allowlist.expires_at if system_allowlist else None,
            }
        ),
        "metrics": scans.scan_all_metrics(),
    }
    refused = any(f is not None and f.errors for f in (form, schedule_form, allowlist_form))
    return render(request, "frontend/scanners.html", context, status=400 if refused else 200)


@signed_in
@sysadmin_only
def security_hub(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        project = Project.objects.filter(pk=request.POST.get("project") or 0).first()
        if project is None:
            messages.error(request, _("Choose a project to export."))
        elif attempt(
            request,
            exports.start_export,
            project=project,
            criteria={"projects": [project.pk]},
            actor=Actor.of_request(request),
        ):
            messages.success(request, _("CVE export started."))
        return redirect("ui:security-hub")
    summary = selectors.security_summary(with_cves=True, with_artifacts=True)
    context = {
        "section": "security",
        "summary": summary,
        "projects": list(Project.objects.order_by("name").values("pk", "name")),
        "exports": [
            {"execution": e, "export": export} for e, export in exports.visible_to(request.user)
        ],
    }
    return render(request, "frontend/security_hub.html", context)


@signed_in
def export_download(request: HttpRequest, execution_id: int) -> HttpResponse:
    """The CSV of a CVE export, deleted once downloaded (scanning.exports, as Harbor)."""
    export = Export.objects.filter(execution_id=execution_id).first()
    if (
        export is None
        or not export.file_present
        or not (request.user.is_superuser or export.user_name == request.user.username)
    ):
        raise Http404(_("This export has no file."))
    response = HttpResponse(export.content, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="scandata_export_{execution_id}.csv"'
    exports.forget_downloaded(export=export)
    return response


def project_scanner_context(access: Any) -> dict[str, Any]:
    """The project configuration tab's scanner card: the scanner in use and the picker."""
    can_choose = access.can("scanner", "create")
    return {
        "project_scanner": selectors.scanner_of(access.project),
        "scanner_choices": list(Scanner.objects.filter(disabled=False).order_by("name"))
        if can_choose
        else [],
        "can_choose_scanner": can_choose,
    }


@require_POST
@signed_in
def project_scanner(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "scanner", "create")
    scanner = Scanner.objects.filter(uuid=request.POST.get("uuid", "")).first()
    if scanner is None:
        messages.error(request, _("Choose a scanner."))
    elif attempt(
        request,
        services.set_project_scanner,
        project=access.project,
        scanner=scanner,
        actor=Actor.of_request(request),
    ):
        messages.success(request, _("Project scanner saved."))
    return redirect("ui:project-configuration", name=name)


class ProjectAllowlistForm(AllowlistForm):
    reuse_system = forms.BooleanField(
        label=gettext_lazy("Use the system CVE allowlist"), required=False
    )


def project_allowlist_context(access: Any) -> dict[str, Any]:
    """The project configuration tab's allowlist card."""
    project = access.project
    own = selectors.allowlist_of(project)
    reuse = (project.metadata or {}).get("reuse_sys_cve_allowlist", "true") != "false"
    return {
        "allowlist_form": ProjectAllowlistForm(
            initial={
                "reuse_system": reuse,
                "items": "\n".join(own.items) if own else "",
                "expires_at": own.expires_at if own else None,
            }
        ),
        "can_edit_allowlist": access.can("project", "update"),
    }


@require_POST
@signed_in
def project_allowlist(request: HttpRequest, name: str) -> HttpResponse:
    access = require_access_by_name(request.user, name, "project", "update")
    form = ProjectAllowlistForm(request.POST)
    actor = Actor.of_request(request)
    if not form.is_valid():
        messages.error(request, _("The CVE allowlist is invalid."))
    elif attempt(
        request,
        services.set_allowlist,
        project=access.project,
        data=allowlist_data(form),
        actor=actor,
    ) and attempt(
        request,
        project_services.set_metadata,
        project=access.project,
        key="reuse_sys_cve_allowlist",
        value="true" if form.cleaned_data["reuse_system"] else "false",
        actor=actor,
    ):
        messages.success(request, _("CVE allowlist saved."))
    return redirect("ui:project-configuration", name=name)
