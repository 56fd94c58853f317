"""Scanning an artifact through its project's scanner adapter, as Harbor does:

1. `start_scan` checks that the scanner can read the artifact (its cached metadata), marks
   the reports Pending and starts an IMAGE_SCAN (or SBOM) execution (jobs/).
2. `run_scan` (the job) hands the adapter a short-lived pull-only token for exactly the
   artifact's repository, POSTs the scan request and polls the report with back-off
   (the adapter's Refresh-After when it sends one, doubling otherwise) until a deadline;
   an index's children are scanned concurrently (up to IN_FLIGHT requests at the adapter,
   polled from the one thread of the job).
3. A report is checked before it is stored (scanning.reports); an adapter that is down,
   slow past the deadline or answers garbage leaves the report in Error with the reason,
   and the execution in Error: nothing stays Running.

SBOMs (scan_type "sbom") are pushed as an accessory of the artifact, as Harbor 2.11 does:
an OCI manifest whose subject is the artifact, artifact type
`application/vnd.goharbor.harbor.sbom.v1`, one layer holding the SBOM document.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from datetime import timedelta
from typing import Any

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.tokens import Scope, mint
from harbor_py.core.actor import Actor
from harbor_py.core.errors import Code, DomainError, bad_request, precondition
from harbor_py.core.events import publish
from jobs import runner as job_runner
from jobs import services as job_services
from jobs.context import JobContext, RetryLater, Stopped
from jobs.models import FINAL, Execution, Status, Task, Trigger
from jobs.runner import RETRIES
from projects.models import Project
from projects.selectors import project_named
from registry import services as registry_services
from registry import upstream
from registry.events import ScanFinished
from registry.manifests import parse_manifest
from registry.models import Artifact, ArtifactReference
from scanning import adapter, cache, reports, selectors
from scanning.models import ReportStatus, Scanner, ScanReport, Vulnerability
from scanning.services import cached_metadata, endpoint_of

logger = logging.getLogger(__name__)

IMAGE_SCAN = "IMAGE_SCAN"
IMAGE = "IMAGE"  # Artifact.type of an image (registry.artifact_types)
SBOM_JOB = "SBOM"
SCAN_ALL = "SCAN_ALL"
SCAN_TYPES = ("vulnerability", "sbom")
SBOM_ARTIFACT_TYPE = "application/vnd.goharbor.harbor.sbom.v1"
EMPTY_CONFIG = "application/vnd.oci.empty.v1+json"
SCANNER_ACTOR = Actor.system("harbor-scanner")
PUSH = frozenset({"pull", "push"})


def _setting(name: str, default: float) -> float:
    return float(settings.HARBOR.get(name, default))


def internal_registry_url() -> str:
    """The address the platform's nginx (and so the /v2 gate) listens on, for a scanner
    registered with `use_internal_addr` (one that runs beside the platform and should not go
    through EXTERNAL_URL): `HARBOR["INTERNAL_URL"]` (harbor_py.settings)."""
    configured = settings.HARBOR.get("INTERNAL_URL") or settings.HARBOR["EXTERNAL_URL"]
    return str(configured).rstrip("/")


def vendor_type(scan_type: str) -> str:
    return SBOM_JOB if scan_type == "sbom" else IMAGE_SCAN


def _report_mime(meta: dict[str, Any], scan_type: str) -> str:
    capability = adapter.capability(meta, scan_type)
    produces = capability["produces_mime_types"] if capability else []
    if scan_type == "sbom":
        if adapter.SBOM_REPORT in produces:
            return adapter.SBOM_REPORT
    else:
        for mime in (adapter.VULN_REPORT, adapter.VULN_REPORT_V10):
            if mime in produces:
                return mime
    raise bad_request(
        f"the scanner {meta['scanner']['name']} cannot produce {scan_type} reports",
        key="scan.type_unsupported",
        params={"name": meta["scanner"]["name"]},
    )


def _consumes(meta: dict[str, Any], scan_type: str) -> set[str]:
    capability = adapter.capability(meta, scan_type)
    return set(capability["consumes_mime_types"]) if capability else set()


def _readable_by(scanner: Scanner) -> set[str]:
    """The manifest types the scanner's vulnerability capability reads: its stored metadata
    (any age: a listing does not wait for an adapter), asked once when there is none."""
    meta = scanner.metadata
    if not meta:
        try:
            meta = cached_metadata(scanner)
        except adapter.AdapterError:
            return set()
    return _consumes(meta, "vulnerability")


def scannable(artifacts: list[Artifact]) -> set[int]:
    """The artifacts that get Harbor's `vulnerabilities` addition link: those the project's
    scanner can read, an index when it can read one of its children (Harbor's
    `IsScannable`). Only images: a Helm chart or another OCI artifact shares the image
    manifest type but holds no file system. A project without a scanner has none."""
    by_project: dict[int, list[Artifact]] = {}
    for artifact in artifacts:
        by_project.setdefault(artifact.repository.project_id, []).append(artifact)
    found: set[int] = set()
    for project_id, readable in _readable_in(list(by_project)).items():
        if not readable:
            continue
        rows = by_project[project_id]
        found.update(a.pk for a in rows if a.type == IMAGE and a.manifest_media_type in readable)
        indexes = [a.pk for a in rows if a.pk not in found]
        if indexes:
            found.update(
                ArtifactReference.objects.filter(
                    parent_id__in=indexes,
                    child__type=IMAGE,
                    child__manifest_media_type__in=readable,
                ).values_list("parent_id", flat=True)
            )
    return found


def _readable_in(project_ids: list[int]) -> dict[int, set[str]]:
    """{project id: the manifest types its scanner reads}, from the cache when warm."""
    generation = cache.generation()
    keys = {pk: cache.readable_key(generation, pk) for pk in project_ids}
    hits = cache.get_many(list(keys.values()))
    found = {pk: set(hits[key]) for pk, key in keys.items() if key in hits}
    missing = [pk for pk in project_ids if pk not in found]
    for pk, scanner in (selectors.scanners_of(missing) if missing else {}).items():
        found[pk] = _readable_by(scanner) if scanner is not None else set()
        cache.put(keys[pk], sorted(found[pk]), cache.READABLE_SECONDS)
    return found


def targets_of(artifact: Artifact) -> list[Artifact]:
    return selectors.children_of(artifact) or [artifact]


def _scanner_for(project: Project) -> Scanner:
    scanner = selectors.scanner_of(project)
    if scanner is None:
        raise precondition(
            f"no scanner is configured for the project {project.name}",
            key="scan.no_scanner",
            params={"project": project.name},
        )
    return scanner


def start_scan(
    *,
    artifact: Artifact,
    scan_type: str = "vulnerability",
    actor: Actor,
    trigger: str = Trigger.MANUAL,
    scan_all: int | None = None,
) -> Execution:
    """scanArtifact: reports Pending now, the job after commit. A second scan of an artifact
    that is being scanned is a conflict."""
    if scan_type not in SCAN_TYPES:
        raise bad_request("scan_type must be vulnerability or sbom", key="scan.type_invalid")
    project = artifact.repository.project
    scanner = _scanner_for(project)
    try:
        meta = cached_metadata(scanner)
    except adapter.AdapterError as exc:
        raise DomainError(
            Code.SERVICE_UNAVAILABLE,
            str(exc),
            key="scanner.unreachable",
            params={"why": str(exc)},
        ) from None
    mime = _report_mime(meta, scan_type)
    consumes = _consumes(meta, scan_type)
    targets = [t for t in targets_of(artifact) if t.manifest_media_type in consumes]
    if not targets:
        raise bad_request(
            f"the scanner {scanner.name} does not support scanning artifact {artifact.digest} "
            f"of type {artifact.manifest_media_type}",
            key="scan.artifact_unsupported",
            params={"name": scanner.name},
        )
    parameters: dict[str, Any] = {
        "artifact_id": artifact.pk,
        "scan_type": scan_type,
        "registration_uuid": scanner.uuid,
        "mime_type": mime,
        "targets": [t.pk for t in targets],
    }
    if scan_all is not None:
        parameters["scan_all"] = scan_all
    with transaction.atomic():
        execution = job_services.start_execution(
            vendor_type=vendor_type(scan_type),
            vendor_id=artifact.pk,
            parameters=parameters,
            trigger=trigger,
            actor=actor,
        )
        task_id = execution.tasks.values_list("pk", flat=True).first()
        for target in targets:
            ScanReport.objects.update_or_create(
                artifact=target,
                registration_uuid=scanner.uuid,
                mime_type=mime,
                defaults={
                    "digest": target.digest,
                    "scan_type": scan_type,
                    "status": ReportStatus.PENDING,
                    "status_message": "",
                    "execution_id": execution.pk,
                    "task_id": task_id,
                    "start_time": timezone.now(),
                    "end_time": None,
                },
            )
    return execution


def active_scan(artifact: Artifact, scan_type: str = "vulnerability") -> Execution | None:
    return (
        Execution.objects.filter(vendor_type=vendor_type(scan_type), vendor_id=artifact.pk)
        .exclude(status__in=FINAL)
        .first()
    )


def stop_scan(*, artifact: Artifact, scan_type: str = "vulnerability", actor: Actor) -> None:
    execution = active_scan(artifact, scan_type)
    if execution is None:
        raise bad_request(
            f"no {scan_type} scan of artifact {artifact.digest} is running", key="scan.not_running"
        )
    job_services.request_stop(execution, actor=actor)


# --- the job ---------------------------------------------------------------------------


IN_FLIGHT = 4  # scan requests of one job at the adapter at once (HARBOR["SCAN_IN_FLIGHT"])
# A poll due sooner than this is waited for in the job; for a later one it asks to be run
# again (RetryLater).
INLINE_WAIT_SECONDS = 1.0


def _end_report(row: ScanReport, status: str, message: str = "", **fields: Any) -> None:
    """A report is final: its status, the artifacts' cached overviews forgotten after
    commit, and ScanFinished published (webhooks)."""
    now = timezone.now()
    ScanReport.objects.filter(pk=row.pk).update(
        status=status, status_message=message[:2000], end_time=now, **fields
    )
    ids = [row.artifact_id, *selectors.parents_of([row.artifact_id])]
    transaction.on_commit(lambda: cache.forget_artifacts(ids))
    artifact = Artifact.objects.select_related("repository").get(pk=row.artifact_id)
    publish(
        ScanFinished(
            repository=artifact.repository.name,
            digest=artifact.digest,
            status=status,
            report_id=row.uuid,
        )
    )


class _Scan:
    def __init__(self, context: JobContext) -> None:
        params = context.parameters
        self.context = context
        self.scan_type: str = params["scan_type"]
        self.mime: str = params["mime_type"]
        self.registration_uuid: str = params["registration_uuid"]
        self.timeout = _setting("SCAN_TIMEOUT_SECONDS", 600)
        self.first_poll = _setting("SCAN_POLL_SECONDS", 2.0)
        self.max_poll = _setting("SCAN_MAX_POLL_SECONDS", 30.0)

    def reports(self) -> Any:
        return ScanReport.objects.filter(
            execution_id=self.context.execution_id, registration_uuid=self.registration_uuid
        )

    def sleep(self, seconds: float) -> None:
        """Wait, but notice a stop request within a second."""
        end = time.monotonic() + seconds
        while True:
            if self.context.should_stop():
                raise Stopped()
            left = end - time.monotonic()
            if left <= 0:
                return
            time.sleep(min(left, 1.0))

    def token(self, repository: str) -> str:
        subject = f"harbor-scanner-{uuid.uuid4().hex[:16]}"
        lifetime = int(self.timeout) + 300
        token, _, _ = mint(
            subject, [Scope("repository", repository, frozenset({"pull"}))], lifetime
        )
        cache.remember_scanner_subject(subject, lifetime)
        return token

    def request(self, artifact: Artifact, scanner: Scanner, meta: dict[str, Any]) -> dict[str, Any]:
        tag = artifact.tags.order_by("name").values_list("name", flat=True).first()
        capability: dict[str, Any] = {"type": self.scan_type, "produces_mime_types": [self.mime]}
        if self.scan_type == "sbom":
            capability["parameters"] = {"sbom_media_types": [adapter.SPDX]}
        registry_url = (
            internal_registry_url()
            if scanner.use_internal_addr
            else settings.HARBOR.get("EXTERNAL_URL", "")
        )
        return {
            "registry": {
                "url": registry_url,
                "authorization": f"Bearer {self.token(artifact.repository.name)}",
            },
            "artifact": {
                "repository": artifact.repository.name,
                "digest": artifact.digest,
                **({"tag": tag} if tag else {}),
                "mime_type": artifact.manifest_media_type,
            },
            "enabled_capabilities": [capability],
        }

    def submit(self, report: ScanReport, scanner: Scanner, meta: dict[str, Any]) -> None:
        """Mark the report Running and hand the adapter its scan request; its first poll is
        due at once, its deadline SCAN_TIMEOUT_SECONDS away."""
        artifact = Artifact.objects.select_related("repository__project").get(pk=report.artifact_id)
        ScanReport.objects.filter(pk=report.pk).update(
            status=ReportStatus.RUNNING, start_time=timezone.now()
        )
        request_id = adapter.accept_scan(
            endpoint_of(scanner), self.request(artifact, scanner, meta)
        )
        now = timezone.now()
        ScanReport.objects.filter(pk=report.pk).update(
            request_id=request_id,
            poll_due=now,
            poll_delay=self.first_poll,
            poll_deadline=now + timedelta(seconds=self.timeout),
            polls=0,
        )
        self.context.log(f"{artifact.repository.name}@{artifact.digest}: scan request {request_id}")

    def poll_once(self, endpoint: adapter.Endpoint, report: ScanReport) -> Any:
        """One GET of the report: the report when ready, else None with its next poll due
        after the adapter's Refresh-After or the doubling back-off (AdapterError past the
        deadline)."""
        answer = adapter.get_report(
            endpoint,
            report.request_id,
            self.mime,
            adapter.SPDX if self.scan_type == "sbom" else "",
        )
        polls = report.polls + 1
        if answer.report is not None:
            self.context.log(f"report {report.request_id} ready after {polls} polls")
            return answer.report
        wait = answer.retry_after if answer.retry_after is not None else report.poll_delay
        wait = min(max(wait, 0.05), self.max_poll)
        now = timezone.now()
        due = now + timedelta(seconds=wait)
        if report.poll_deadline is not None and due > report.poll_deadline:
            raise adapter.AdapterError(
                f"the scanner adapter did not finish the scan within {int(self.timeout)} s"
            )
        ScanReport.objects.filter(pk=report.pk).update(
            poll_due=due, poll_delay=min(report.poll_delay * 2, self.max_poll), polls=polls
        )
        return None

    def store(self, report: ScanReport, raw: Any, meta: dict[str, Any]) -> None:
        artifact = Artifact.objects.select_related("repository__project").get(pk=report.artifact_id)
        if self.scan_type == "sbom":
            media_type, document = reports.sbom_document(raw)
            digest = push_sbom(artifact, media_type, document)
            with transaction.atomic():
                _end_report(
                    report,
                    ReportStatus.SUCCESS,
                    report=raw,
                    scanner=meta["scanner"],
                    sbom_digest=digest,
                )
            self.context.log(f"SBOM {digest} attached to {artifact.digest}")
            return
        findings = reports.vulnerability_findings(raw)
        summary = reports.summarize(findings)
        with transaction.atomic():
            Vulnerability.objects.filter(report=report).delete()
            Vulnerability.objects.bulk_create(
                [
                    Vulnerability(
                        report=report,
                        cve_id=f.cve_id,
                        package=f.package,
                        version=f.version,
                        fixed_version=f.fixed_version,
                        severity=f.severity,
                        cvss_v3_score=f.cvss_v3_score,
                        description=f.description,
                        links=f.links,
                    )
                    for f in findings
                ],
                batch_size=1000,
            )
            _end_report(
                report, ReportStatus.SUCCESS, report=raw, summary=summary, scanner=meta["scanner"]
            )
        self.context.log(
            f"{artifact.digest}: {summary['total']} vulnerabilities, severity {summary['severity']}"
        )

    def failed(self, report: ScanReport, exc: Exception) -> None:
        self.context.log(f"{report.digest}: {exc}")
        _end_report(report, ReportStatus.ERROR, str(exc))

    def step(self, scanner: Scanner, meta: dict[str, Any]) -> float | None:
        """What is due now: submit waiting reports while fewer than SCAN_IN_FLIGHT requests
        are at the adapter (an index's children are scanned concurrently), poll those whose
        poll is due, store the reports that are ready. Seconds until the next poll is due,
        or None when every report of the run is final. All state is in the report rows, so
        that any worker can take the next step."""
        if self.context.should_stop():
            raise Stopped()
        endpoint = endpoint_of(scanner)
        window = max(1, int(_setting("SCAN_IN_FLIGHT", IN_FLIGHT)))
        unfinished = self.reports().filter(status__in=[ReportStatus.PENDING, ReportStatus.RUNNING])
        in_flight = list(unfinished.filter(status=ReportStatus.RUNNING).exclude(request_id=""))
        # Pending ones, and any a lost run marked Running before the adapter answered.
        waiting = list(
            unfinished.filter(Q(status=ReportStatus.PENDING) | Q(request_id="")).order_by("pk")
        )
        for report in waiting[: max(0, window - len(in_flight))]:
            try:
                self.submit(report, scanner, meta)
            except adapter.AdapterError as exc:
                self.failed(report, exc)
        now = timezone.now()
        for report in unfinished.filter(status=ReportStatus.RUNNING, poll_due__lte=now).exclude(
            request_id=""
        ):
            if self.context.should_stop():
                raise Stopped()
            try:
                raw = self.poll_once(endpoint, report)
                if raw is not None:
                    self.store(report, raw, meta)
            except adapter.AdapterError as exc:
                self.failed(report, exc)
        total = self.reports().count()
        left = unfinished.count()
        self.context.progress(int(100 * (total - left) / max(1, total)))
        if not left:
            return None
        next_due = (
            unfinished.filter(status=ReportStatus.RUNNING)
            .exclude(request_id="")
            .order_by("poll_due")
            .values_list("poll_due", flat=True)
            .first()
        )
        if next_due is None:
            return 0.0  # only waiting ones: the window has room again
        return max(0.0, (next_due - timezone.now()).total_seconds())

    def proceed(self, scanner: Scanner, meta: dict[str, Any]) -> dict[str, Any]:
        """Step until every report is final, waiting in the job only for a poll due within
        INLINE_WAIT_SECONDS: for a later one the job is run again when it is due
        (RetryLater), so that no worker slot is held while the adapter scans. Every step
        starts from the report rows."""
        try:
            while (wait := self.step(scanner, meta)) is not None:
                if wait > INLINE_WAIT_SECONDS and job_runner.countdowns_wait():
                    raise RetryLater(wait, f"next poll in {wait:.1f} s")
                self.sleep(wait)
        except RetryLater:
            raise
        except Stopped:
            stop_reports(self.context.execution_id)
            raise
        except Exception as exc:
            for report in self.reports().filter(
                status__in=[ReportStatus.PENDING, ReportStatus.RUNNING]
            ):
                _end_report(report, ReportStatus.ERROR, f"scan failed: {exc}")
            raise
        failure = (
            self.reports()
            .filter(status=ReportStatus.ERROR)
            .order_by("end_time", "pk")
            .values_list("status_message", flat=True)
            .first()
        )
        if failure is not None:
            raise RuntimeError(failure)
        return {"reports": self.reports().count()}

    def run(self) -> dict[str, Any]:
        scanner = Scanner.objects.filter(uuid=self.registration_uuid).first()
        if scanner is None:
            for report in self.reports().filter(
                status__in=[ReportStatus.PENDING, ReportStatus.RUNNING]
            ):
                _end_report(report, ReportStatus.ERROR, "the scanner registration was deleted")
            raise RuntimeError("the scanner registration was deleted")
        try:
            meta = cached_metadata(scanner)
        except adapter.AdapterError as exc:
            for report in self.reports().filter(
                status__in=[ReportStatus.PENDING, ReportStatus.RUNNING]
            ):
                _end_report(report, ReportStatus.ERROR, str(exc))
            raise
        return self.proceed(scanner, meta)


def run_scan(context: JobContext) -> dict[str, Any] | None:
    return _Scan(context).run()


def stop_reports(execution_id: int) -> None:
    """The reports of a scan execution that are not final yet, Stopped: by its run on
    seeing the stop, or by jobs when it is stopped between two runs
    (`JobType.stopped_between_runs`)."""
    for report in ScanReport.objects.filter(
        execution_id=execution_id, status__in=[ReportStatus.PENDING, ReportStatus.RUNNING]
    ):
        _end_report(report, ReportStatus.STOPPED, "stopped on request")


# Scans deferred by the code before RetryLater (#22): remove in the release after. Such a
# scan left its task Running with no worker and sent `scanning.tasks.continue_scan`.


def resume_deferred(task_id: int, run: int) -> None:
    """A step message of such a scan (in flight during an upgrade, or sent by a worker that
    still runs the old code): its task becomes a retry due now, which the runner runs."""
    task = Task.objects.filter(pk=task_id, status=Status.RUNNING, run_count=run, worker="")
    attrs = task.values_list("extra_attrs", flat=True).first()
    if attrs is None:
        return  # finished, stopped, or taken by another run meanwhile
    retries = int(attrs.get(RETRIES, 0)) + 1
    if task.update(
        status=Status.PENDING, heartbeat=timezone.now(), extra_attrs={**attrs, RETRIES: retries}
    ):
        job_runner.run(task_id)


def push_sbom(artifact: Artifact, media_type: str, document: dict[str, Any]) -> str:
    """Push the SBOM as an accessory of `artifact` through the registry; its digest."""
    repository = artifact.repository.name
    content = json.dumps(document, sort_keys=True).encode()
    config = b"{}"
    layer_digest = _upload(repository, content)
    config_digest = _upload(repository, config)
    manifest = {
        "schemaVersion": 2,
        "mediaType": adapter.OCI_MANIFEST,
        "artifactType": SBOM_ARTIFACT_TYPE,
        "config": {"mediaType": EMPTY_CONFIG, "digest": config_digest, "size": len(config)},
        "layers": [
            {
                "mediaType": SBOM_ARTIFACT_TYPE,
                "digest": layer_digest,
                "size": len(content),
                "annotations": {
                    "org.opencontainers.image.title": "sbom.spdx.json"
                    if media_type == adapter.SPDX
                    else "sbom.cyclonedx.json"
                },
            }
        ],
        "subject": {
            "mediaType": artifact.manifest_media_type,
            "digest": artifact.digest,
            "size": artifact.size,
        },
        "annotations": {
            "created-by": "Harbor",
            "org.opencontainers.artifact.created": timezone.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "org.opencontainers.artifact.description": "SPDX JSON SBOM"
            if media_type == adapter.SPDX
            else "CycloneDX JSON SBOM",
        },
    }
    body = json.dumps(manifest).encode()
    digest = "sha256:" + hashlib.sha256(body).hexdigest()
    put = upstream.request(
        "PUT",
        repository,
        f"/v2/{repository}/manifests/{digest}",
        PUSH,
        headers={"Content-Type": adapter.OCI_MANIFEST},
        content=body,
    )
    if put.status_code != 201:
        raise adapter.AdapterError(f"the registry refused the SBOM manifest ({put.status_code})")
    registry_services.record_manifest_push(
        project=artifact.repository.project,
        repository_name=repository,
        parsed=parse_manifest(body, adapter.OCI_MANIFEST),
        tag=None,
        actor=SCANNER_ACTOR,
    )
    return digest


def _upload(repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    head = upstream.request("HEAD", repository, f"/v2/{repository}/blobs/{digest}", PUSH)
    if head.status_code == 200:
        return digest
    started = upstream.request("POST", repository, f"/v2/{repository}/blobs/uploads/", PUSH)
    location = started.headers.get("Location", "")
    if started.status_code != 202 or not location:
        raise adapter.AdapterError(f"the registry refused an SBOM upload ({started.status_code})")
    url = httpx.URL(location).copy_merge_params({"digest": digest})
    done = upstream.request(
        "PUT",
        repository,
        url.raw_path.decode(),
        PUSH,
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if done.status_code != 201:
        raise adapter.AdapterError(f"the registry refused an SBOM blob ({done.status_code})")
    return digest


# --- scan all ---------------------------------------------------------------------------


def scannable_roots() -> Any:
    """Every artifact that is not an accessory nor an index's child."""
    children = ArtifactReference.objects.filter(child__isnull=False).values("child_id")
    return (
        Artifact.objects.filter(subject_digest="")
        .exclude(pk__in=children)
        .select_related("repository__project")
        .order_by("pk")
    )


def run_scan_all(context: JobContext) -> dict[str, Any] | None:
    trigger = Execution.objects.filter(pk=context.execution_id).values_list("trigger", flat=True)
    started = skipped = 0
    for artifact in scannable_roots().iterator(chunk_size=500):
        if context.should_stop():
            raise Stopped()
        try:
            start_scan(
                artifact=artifact,
                actor=SCANNER_ACTOR,
                trigger=trigger.first() or Trigger.MANUAL,
                scan_all=context.execution_id,
            )
            started += 1
        except DomainError as exc:
            skipped += 1
            context.log(f"{artifact.repository.name}@{artifact.digest} skipped: {exc.message}")
    context.log(f"{started} scans started, {skipped} artifacts skipped")
    return {"started": started, "skipped": skipped}


def scan_all_metrics(trigger: str | None = None) -> dict[str, Any]:
    """Harbor's Stats of the latest scan-all (of that trigger when given)."""
    runs = Execution.objects.filter(vendor_type=SCAN_ALL)
    if trigger:
        runs = runs.filter(trigger=trigger)
    latest = runs.order_by("-start_time", "-pk").first()
    if latest is None:
        return {"total": 0, "completed": 0, "metrics": {}, "ongoing": False}
    scans = Execution.objects.filter(
        Q(vendor_type=IMAGE_SCAN) & Q(parameters__scan_all=latest.pk)
    ).values_list("status", flat=True)
    metrics: dict[str, int] = {}
    for status in scans:
        metrics[status] = metrics.get(status, 0) + 1
    total = sum(metrics.values())
    completed = sum(n for s, n in metrics.items() if s in FINAL)
    return {
        "total": total,
        "completed": completed,
        "metrics": metrics,
        "ongoing": latest.status not in FINAL or completed < total,
        "trigger": {"MANUAL": "Manual", "SCHEDULE": "Schedule", "EVENT": "Event"}.get(
            latest.trigger, "Manual"
        ),
    }


def stop_scan_all(*, actor: Actor) -> None:
    latest = Execution.objects.filter(vendor_type=SCAN_ALL).order_by("-start_time", "-pk").first()
    if latest is None:
        raise bad_request("no scan all job to stop", key="scan.not_running")
    if latest.status not in FINAL:
        job_services.request_stop(latest, actor=actor)
    for scan in Execution.objects.filter(
        vendor_type=IMAGE_SCAN, parameters__scan_all=latest.pk
    ).exclude(status__in=FINAL):
        job_services.request_stop(scan, actor=SCANNER_ACTOR)


# --- scan on push ------------------------------------------------------------------------


def on_artifact_pushed(event: Any, key: str) -> None:
    """auto_scan (and auto_sbom_generation): scan what was pushed, as the system."""
    artifact = (
        Artifact.objects.select_related("repository__project")
        .filter(repository__name=event.repository, digest=event.digest)
        .first()
    )
    if artifact is None or artifact.subject_digest:
        return  # deleted meanwhile, or an accessory (signatures, SBOMs) that is not scanned
    metadata = artifact.repository.project.metadata or {}
    for flag, scan_type in (("auto_scan", "vulnerability"), ("auto_sbom_generation", "sbom")):
        if metadata.get(flag) != "true":
            continue
        try:
            start_scan(
                artifact=artifact, scan_type=scan_type, actor=SCANNER_ACTOR, trigger=Trigger.EVENT
            )
        except DomainError as exc:
            logger.info("scan on push of %s skipped: %s", event.digest, exc.message)


def wants_push(event: Any) -> bool:
    """Only pushes into projects that scan on push cost an outbox row. The gate's push
    reads no row for it: the project row it read at its start stands for the project
    (projects.selectors.standing_for); any other publisher, one indexed read."""
    project = project_named(event.project)
    found = project.metadata if project is not None else {}
    return found.get("auto_scan") == "true" or found.get("auto_sbom_generation") == "true"
