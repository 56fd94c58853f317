"""Harbor's scanning API: /scanners, the project's scanner, artifact scans and their
reports, scan all, CVE allowlists, the security hub and the CVE export."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers as drf
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from harbor_py.api.params import bool_param, is_resource_name, require_authenticated, validated_body
from harbor_py.api.permissions import IsSysadmin
from harbor_py.api.schema import listing
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, not_found
from harbor_py.core.pagination import HarborPagination
from harbor_py.core.query import Field, apply_query, apply_sort
from jobs import services as job_services
from jobs.models import Execution, Schedule, Task
from projects.models import Project
from projects.selectors import ProjectAccess, find_project, require_access
from registry import selectors as registry_selectors
from registry.models import Artifact
from scanning import adapter, exports, scans, security, selectors, services
from scanning.api import serializers as bodies
from scanning.models import Export, Scanner

SCANNER_FIELDS = {"name": Field("name"), "description": Field("description"), "url": Field("url")}


def _actor(request: Request) -> Actor:
    return Actor.of_request(request)


def _scanner(registration_id: str) -> Scanner:
    found = selectors.find_scanner(registration_id)
    if found is None:
        raise not_found(f"scanner registration {registration_id} not found")
    return found


def _paged(view: APIView, request: Request, rows: Any, render: Any) -> Response:
    paginator = HarborPagination()
    page = paginator.paginate_queryset(rows, request, view)
    return paginator.get_paginated_response([render(row) for row in page])


def _adapter_down(exc: adapter.AdapterError) -> DomainError:
    return DomainError(
        Code.SERVICE_UNAVAILABLE, str(exc), key="scanner.unreachable", params={"why": str(exc)}
    )


class ScannersView(APIView):
    permission_classes = [IsSysadmin]

    @listing("listScanners")
    def get(self, request: Request) -> Response:
        rows = apply_query(Scanner.objects.all(), request.query_params.get("q"), SCANNER_FIELDS)
        rows = apply_sort(
            rows,
            request.query_params.get("sort"),
            {"name": "name", "create_time": "create_time"},
            default=["create_time", "pk"],
        )
        return _paged(self, request, rows, bodies.registration)

    @extend_schema(
        operation_id="createScanner", request=bodies.RegistrationReq, responses={201: None}
    )
    def post(self, request: Request) -> Response:
        data = validated_body(bodies.RegistrationReq, request)
        scanner = services.register_scanner(data=data, actor=_actor(request))
        response = Response(status=201)
        response["Location"] = f"/api/v2.0/scanners/{scanner.uuid}"
        return response


class PingView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(
        operation_id="pingScanner", request=bodies.RegistrationSettings, responses={200: None}
    )
    def post(self, request: Request) -> Response:
        services.ping(data=validated_body(bodies.RegistrationSettings, request))
        return Response(status=200)


class ScannerView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getScanner", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, registration_id: str) -> Response:
        return Response(bodies.registration(_scanner(registration_id)))

    @extend_schema(
        operation_id="updateScanner", request=bodies.RegistrationReq, responses={200: None}
    )
    def put(self, request: Request, registration_id: str) -> Response:
        data = validated_body(bodies.RegistrationReq, request)
        services.update_scanner(scanner=_scanner(registration_id), data=data, actor=_actor(request))
        return Response(status=200)

    @extend_schema(operation_id="deleteScanner", responses={200: OpenApiTypes.OBJECT})
    def delete(self, request: Request, registration_id: str) -> Response:
        scanner = _scanner(registration_id)
        body = bodies.registration(scanner)
        services.delete_scanner(scanner=scanner, actor=_actor(request))
        return Response(body)

    @extend_schema(
        operation_id="setScannerAsDefault", request=bodies.IsDefault, responses={200: None}
    )
    def patch(self, request: Request, registration_id: str) -> Response:
        data = validated_body(bodies.IsDefault, request)
        services.set_default(
            scanner=_scanner(registration_id), is_default=data["is_default"], actor=_actor(request)
        )
        return Response(status=200)


class ScannerMetadataView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getScannerMetadata", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, registration_id: str) -> Response:
        try:
            meta = services.fresh_metadata(_scanner(registration_id))
        except adapter.AdapterError as exc:
            raise _adapter_down(exc) from None
        capabilities = [
            {k: v for k, v in c.items() if k != "additional_attributes"}  # not in Harbor's shape
            for c in meta["capabilities"]
        ]
        return Response({**meta, "capabilities": capabilities})


class _ProjectView(APIView):
    def access(self, resource: str, action: str) -> ProjectAccess:
        key = self.kwargs["project_name_or_id"]
        project = find_project(key, is_name=is_resource_name(self.request))
        return require_access(self.request.user, project, key, resource, action)


class ProjectScannerView(_ProjectView):
    @extend_schema(operation_id="getScannerOfProject", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_name_or_id: str) -> Response:
        project = self.access("scanner", "read").project
        scanner = selectors.scanner_of(project)
        if scanner is None:
            raise not_found(f"no scanner is configured for the project {project.name}")
        # Harbor pings the project's scanner here (WithPing): health, and adapter, vendor
        # and version from the answer; an adapter that is down is "unhealthy", not an error
        try:
            services.fresh_metadata(scanner)
            health = "healthy"
        except adapter.AdapterError:
            health = "unhealthy"
        return Response({**bodies.registration(scanner), "health": health})

    @extend_schema(
        operation_id="setScannerOfProject", request=bodies.ProjectScannerBody, responses={200: None}
    )
    def put(self, request: Request, project_name_or_id: str) -> Response:
        project = self.access("scanner", "create").project
        uuid = validated_body(bodies.ProjectScannerBody, request)["uuid"]
        scanner = Scanner.objects.filter(uuid=uuid).first()
        if scanner is None:
            raise bad_request(
                f"scanner registration {uuid} not found",
                key="scanner.unknown",
                params={"uuid": uuid},
            )
        services.set_project_scanner(project=project, scanner=scanner, actor=_actor(request))
        return Response(status=200)


class ProjectScannerCandidatesView(_ProjectView):
    @listing("listScannerCandidatesOfProject")
    def get(self, request: Request, project_name_or_id: str) -> Response:
        self.access("scanner", "create")
        rows = apply_query(
            Scanner.objects.filter(disabled=False), request.query_params.get("q"), SCANNER_FIELDS
        )
        rows = apply_sort(rows, request.query_params.get("sort"), {"name": "name"}, default=["pk"])
        return _paged(self, request, rows, bodies.registration)


class _ArtifactView(APIView):
    def artifact(self, resource: str, action: str) -> Artifact:
        project_name = self.kwargs["project_name"]
        key = project_name
        project = Project.objects.filter(name=project_name).first()
        access = require_access(self.request.user, project, key, resource, action)
        name = f"{project_name}/{unquote(self.kwargs['repository_name'])}"
        repository = registry_selectors.repository_in(access.project, name)
        artifact = registry_selectors.artifact_in(repository, self.kwargs["reference"])
        artifact.repository = repository
        return artifact

    def scan_type(self, request: Request) -> str:
        if not request.data:
            return "vulnerability"
        return validated_body(bodies.ScanType, request).get("scan_type") or "vulnerability"


class ScanView(_ArtifactView):
    @extend_schema(operation_id="scanArtifact", request=bodies.ScanType, responses={202: None})
    def post(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        scan_type = self.scan_type(request)
        resource = "sbom" if scan_type == "sbom" else "scan"
        artifact = self.artifact(resource, "create")
        scans.start_scan(artifact=artifact, scan_type=scan_type, actor=_actor(request))
        return Response(status=202)


class StopScanView(_ArtifactView):
    @extend_schema(operation_id="stopScanArtifact", request=bodies.ScanType, responses={202: None})
    def post(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        scan_type = self.scan_type(request)
        artifact = self.artifact("sbom" if scan_type == "sbom" else "scan", "stop")
        scans.stop_scan(artifact=artifact, scan_type=scan_type, actor=_actor(request))
        return Response(status=202)


class ReportLogView(_ArtifactView):
    @extend_schema(operation_id="getReportLog", responses={200: OpenApiTypes.STR})
    def get(
        self,
        request: Request,
        project_name: str,
        repository_name: str,
        reference: str,
        report_id: str,
    ) -> HttpResponse:
        artifact = self.artifact("scan", "read")
        report = selectors.report_of(artifact, report_id)
        if report is None:
            raise not_found(f"report {report_id} not found")
        task = Task.objects.filter(pk=report.task_id).first() if report.task_id else None
        text = task.log if task else ""
        if report.status_message:
            text += f"{report.status}: {report.status_message}\n"
        return HttpResponse(text, content_type="text/plain; charset=utf-8")


class VulnerabilitiesView(_ArtifactView):
    @extend_schema(operation_id="getVulnerabilitiesAddition", responses={200: OpenApiTypes.OBJECT})
    def get(
        self, request: Request, project_name: str, repository_name: str, reference: str
    ) -> Response:
        artifact = self.artifact("artifact-addition", "read")
        accept = selectors.accepted_types(request.headers.get("X-Accept-Vulnerabilities"))
        return Response(selectors.vulnerabilities(artifact, accept))


# --- scan all ---------------------------------------------------------------------------


def _schedule_body(schedule: Schedule | None) -> dict[str, Any]:
    if schedule is None or schedule.type == "None":
        return {"schedule": {"type": "None"}}
    return {
        "id": schedule.pk,
        "schedule": {"type": schedule.type, "cron": schedule.cron},
        "parameters": schedule.parameters,
        "creation_time": drf.DateTimeField().to_representation(schedule.creation_time),
        "update_time": drf.DateTimeField().to_representation(schedule.update_time),
    }


class ScanAllScheduleView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getScanAllSchedule", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(_schedule_body(Schedule.objects.filter(vendor_type=scans.SCAN_ALL).first()))

    def _apply(self, request: Request) -> None:
        body = request.data.get("schedule") if isinstance(request.data, dict) else None
        if not isinstance(body, dict):
            raise bad_request(
                "the body must be a Schedule with a schedule object",
                key="scan_all.schedule_invalid",
            )
        kind = body.get("type")
        if kind == "Manual":
            job_services.start_execution(
                vendor_type=scans.SCAN_ALL, parameters={}, actor=_actor(request)
            )
            return
        if not isinstance(kind, str) or kind not in job_services.SCHEDULE_TYPES:
            raise bad_request(
                "schedule.type must be Manual, Hourly, Daily, Weekly, Custom or None",
                key="scan_all.schedule_invalid",
            )
        job_services.set_schedule(
            vendor_type=scans.SCAN_ALL,
            type_="Custom" if kind == "Schedule" else kind,
            cron=str(body.get("cron") or ""),
            parameters={},
            actor=_actor(request),
        )

    @extend_schema(
        operation_id="createScanAllSchedule", request=OpenApiTypes.OBJECT, responses={201: None}
    )
    def post(self, request: Request) -> Response:
        self._apply(request)
        return Response(status=201)

    @extend_schema(
        operation_id="updateScanAllSchedule", request=OpenApiTypes.OBJECT, responses={200: None}
    )
    def put(self, request: Request) -> Response:
        self._apply(request)
        return Response(status=200)


class ScanAllStopView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="stopScanAll", request=None, responses={202: None})
    def post(self, request: Request) -> Response:
        scans.stop_scan_all(actor=_actor(request))
        return Response(status=202)


class ScanAllMetricsView(APIView):
    permission_classes = [IsSysadmin]
    trigger: str | None = None

    @extend_schema(operation_id="getLatestScanAllMetrics", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(scans.scan_all_metrics(self.trigger))


class ScheduledScanAllMetricsView(ScanAllMetricsView):
    trigger = "SCHEDULE"

    @extend_schema(
        operation_id="getLatestScheduledScanAllMetrics", responses={200: OpenApiTypes.OBJECT}
    )
    def get(self, request: Request) -> Response:
        return Response(scans.scan_all_metrics(self.trigger))


# --- allowlists -------------------------------------------------------------------------


class SystemAllowlistView(APIView):
    @extend_schema(operation_id="getSystemCVEAllowlist", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        return Response(bodies.allowlist(selectors.allowlist_of(None)))

    @extend_schema(
        operation_id="putSystemCVEAllowlist", request=OpenApiTypes.OBJECT, responses={200: None}
    )
    def put(self, request: Request) -> Response:
        require_authenticated(request)
        if not request.user.is_superuser:
            raise DomainError(
                Code.FORBIDDEN,
                "only system administrators may change it",
                key="allowlist.system_forbidden",
            )
        if not isinstance(request.data, dict):
            raise bad_request("the body must be a CVEAllowlist", key="allowlist.body_invalid")
        services.set_allowlist(project=None, data=request.data, actor=_actor(request))
        return Response(status=200)


# --- security hub -----------------------------------------------------------------------


class SecuritySummaryView(APIView):
    permission_classes = [IsSysadmin]

    @extend_schema(operation_id="getSecuritySummary", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request) -> Response:
        return Response(
            selectors.security_summary(
                with_cves=bool_param(request, "with_dangerous_cve", False),
                with_artifacts=bool_param(request, "with_dangerous_artifact", False),
            )
        )


class SecurityVulView(APIView):
    permission_classes = [IsSysadmin]

    @listing("ListVulnerabilities")
    def get(self, request: Request) -> Response:
        rows = security.vulnerabilities(request.query_params.get("q"))
        paginator = HarborPagination()
        tune = bool_param(request, "tune_count", False)
        page = paginator.paginate_queryset(rows, request, self)
        if tune:
            paginator.total = min(paginator.total, 1000)
        return paginator.get_paginated_response(
            security.items(page, with_tag=bool_param(request, "with_tag", False))
        )


# --- CVE export -------------------------------------------------------------------------


def _execution_body(execution: Execution, export: Export | None) -> dict[str, Any]:
    return {
        "id": execution.pk,
        "status": execution.status,
        "status_text": execution.status_message,
        "trigger": execution.trigger,
        "start_time": drf.DateTimeField().to_representation(execution.start_time),
        **(
            {"end_time": drf.DateTimeField().to_representation(execution.end_time)}
            if execution.end_time
            else {}
        ),
        "user_id": (export.user_id or 0) if export else 0,
        "user_name": export.user_name if export else "",
        "file_present": bool(export and export.file_present),
    }


def _own_export(request: Request, execution_id: int) -> tuple[Execution, Export]:
    require_authenticated(request)
    export = Export.objects.filter(execution_id=execution_id).first()
    execution = Execution.objects.filter(pk=execution_id, vendor_type=exports.EXPORT_JOB).first()
    if execution is None or export is None:
        raise not_found(f"export execution {execution_id} not found")
    if not request.user.is_superuser and export.user_name != request.user.username:
        raise not_found(f"export execution {execution_id} not found")
    return execution, export


class ExportView(APIView):
    @extend_schema(
        operation_id="exportScanData",
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        require_authenticated(request)
        data_type = request.headers.get("X-Scan-Data-Type", "")
        if data_type not in ("", *selectors.VULN_TYPES):
            raise bad_request(
                f"unsupported X-Scan-Data-Type {data_type}",
                key="export.type_unsupported",
                params={"type": data_type},
            )
        criteria = exports.check_criteria(request.data)
        key = str(criteria["projects"][0])
        project = Project.objects.filter(pk=criteria["projects"][0]).first()
        access = require_access(request.user, project, key, "export-cve", "create")
        execution = exports.start_export(
            project=access.project, criteria=criteria, actor=_actor(request)
        )
        return Response({"id": execution.pk})


class ExportExecutionsView(APIView):
    @extend_schema(
        operation_id="getScanDataExportExecutionList", responses={200: OpenApiTypes.OBJECT}
    )
    def get(self, request: Request) -> Response:
        require_authenticated(request)
        rows = exports.visible_to(request.user)
        return Response({"items": [_execution_body(e, export) for e, export in rows]})


class ExportExecutionView(APIView):
    @extend_schema(operation_id="getScanDataExportExecution", responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, execution_id: int) -> Response:
        execution, export = _own_export(request, execution_id)
        return Response(_execution_body(execution, export))


class ExportDownloadView(APIView):
    @extend_schema(operation_id="downloadScanData", responses={200: OpenApiTypes.BINARY})
    def get(self, request: Request, execution_id: int) -> HttpResponse:
        _, export = _own_export(request, execution_id)
        if not export.file_present:
            raise not_found(f"the export {execution_id} has no file (yet)")
        response = HttpResponse(export.content, content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = (
            f'attachment; filename="scandata_export_{execution_id}.csv"'
        )
        exports.forget_downloaded(export=export)  # Harbor deletes it once downloaded
        return response
