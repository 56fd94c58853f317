"""Harbor's pluggable scanner adapter API v1.2 (shared/reference/scanner/), as a plain
WSGI application.

    GET  /api/v1/metadata                   the scanner and its two capabilities
    POST /api/v1/scan                       202 {"id"}: the scan runs in the worker pool
    GET  /api/v1/scan/{id}/report           302 + Refresh-After while it runs; then 200
                                            with the report the Accept header asks for

No web framework: three routes need no URL resolver, middleware, sessions or templates,
and a request costs a dictionary lookup and one indexed read. Django serves only as the
ORM (the scanner's own tables in the platform's database). gunicorn runs it with one
process and a few threads (harbor_py/processes.py): the threads answer at once while the
scans run in a bounded thread pool of their own (HARBOR_SCANNER_WORKERS, default 1),
jobs being rows in the database, so that any process can answer a poll.

Every route asks for the Authorization header the registration carries: `Bearer <token>`
with settings.HARBOR["BUILTIN_SCANNER_TOKEN"]. Errors are the adapter's error body.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
import uuid
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs

from django.conf import settings
from django.db import close_old_connections
from django.utils import timezone

from harbor_py.core import env
from scanner import engine, leases, pull, sbom, vulndb
from scanner.models import ScanJob

log = logging.getLogger(__name__)

METADATA_TYPE = "application/vnd.scanner.adapter.metadata+json; version=1.1"
SCAN_REQUEST_TYPES = (
    "application/vnd.scanner.adapter.scan.request+json; version=1.1",
    "application/vnd.scanner.adapter.scan.request+json; version=1.0",
)
SCAN_RESPONSE_TYPE = "application/vnd.scanner.adapter.scan.response+json; version=1.0"
ERROR_TYPE = "application/vnd.scanner.adapter.error+json; version=1.0"
VULN_REPORT_TYPES = (
    "application/vnd.security.vulnerability.report; version=1.1",
    "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0",
)
SBOM_REPORT_TYPE = "application/vnd.security.sbom.report+json; version=1.0"
REFRESH_AFTER_SECONDS = 5
MAX_REQUEST_BYTES = 1 << 20  # a scan request is a few hundred bytes
JOB_RETENTION = timedelta(days=7)

StartResponse = Callable[..., Any]

_workers: ThreadPoolExecutor | None = None


def executor() -> ThreadPoolExecutor:
    global _workers
    if _workers is None:
        size = max(1, int(env.get("HARBOR_SCANNER_WORKERS", "1")))
        _workers = ThreadPoolExecutor(max_workers=size, thread_name_prefix="scan")
    return _workers


def metadata() -> dict[str, Any]:
    properties = {
        "harbor.scanner-adapter/scanner-type": "os-package-vulnerability",
        "harbor.scanner-adapter/vulnerability-database-source": "OSV (imported offline)",
    }
    updated = vulndb.updated_at()
    if updated:
        properties["harbor.scanner-adapter/vulnerability-database-updated-at"] = updated
    return {
        "scanner": engine.SCANNER,
        "capabilities": [
            {
                "type": "vulnerability",
                "consumes_mime_types": list(pull.MANIFEST_TYPES),
                "produces_mime_types": list(VULN_REPORT_TYPES),
            },
            {
                "type": "sbom",
                "consumes_mime_types": list(pull.MANIFEST_TYPES),
                "produces_mime_types": [SBOM_REPORT_TYPE],
                "additional_attributes": {"sbom_media_types": list(sbom.MEDIA_TYPES)},
            },
        ],
        "properties": properties,
    }


class _Answer(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


_REASONS = {
    200: "OK",
    202: "Accepted",
    302: "Found",
    400: "Bad Request",
    401: "Unauthorized",
    404: "Not Found",
    405: "Method Not Allowed",
    415: "Unsupported Media Type",
    422: "Unprocessable Entity",
    500: "Internal Server Error",
    501: "Not Implemented",
}


def _respond(
    start_response: StartResponse,
    status: int,
    body: Any = None,
    content_type: str = "",
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    payload = b"" if body is None else json.dumps(body).encode()
    sent = [*headers, ("Content-Length", str(len(payload)))]
    if body is not None:
        sent.append(("Content-Type", content_type))
    start_response(f"{status} {_REASONS.get(status, '')}", sent)
    return [payload]


def _authorized(environ: dict[str, Any]) -> bool:
    expected = f"Bearer {settings.HARBOR['BUILTIN_SCANNER_TOKEN']}"
    given = environ.get("HTTP_AUTHORIZATION", "")
    return hmac.compare_digest(given.encode(), expected.encode())


def _read_json(environ: dict[str, Any]) -> Any:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_REQUEST_BYTES:
        raise _Answer(400, f"the body is larger than {MAX_REQUEST_BYTES} bytes")
    raw = environ["wsgi.input"].read(length) if length > 0 else b""
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise _Answer(400, f"the body is not JSON: {exc}") from exc


def _validate_scan_request(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise _Answer(400, "the scan request is not a JSON object")
    registry, artifact = body.get("registry"), body.get("artifact")
    if not isinstance(registry, dict) or not isinstance(artifact, dict):
        raise _Answer(400, "registry and artifact must be objects")
    for where, value, names in (
        ("registry", registry, ("url", "authorization")),
        ("artifact", artifact, ("repository", "digest", "tag", "mime_type")),
    ):
        for name in names:
            if name in value and not isinstance(value[name], str):
                raise _Answer(400, f"{where}.{name} must be a string")
    url = registry.get("url", "")
    if not re.match(r"https?://[^/\s]+", url):
        raise _Answer(422, "registry.url must be an http(s) URL")
    if not artifact.get("repository"):
        raise _Answer(422, "artifact.repository is required")
    if not re.fullmatch(r"sha256:[0-9a-f]{64}", artifact.get("digest", "")):
        raise _Answer(422, "artifact.digest must be a sha256 digest")
    mime_type = artifact.get("mime_type")
    if mime_type and mime_type not in pull.MANIFEST_TYPES:
        raise _Answer(501, f"this scanner does not scan {mime_type}")
    capabilities = body.get("enabled_capabilities")
    if capabilities is not None:
        if not isinstance(capabilities, list) or not all(isinstance(c, dict) for c in capabilities):
            raise _Answer(400, "enabled_capabilities must be a list of objects")
        for capability in capabilities:
            if capability.get("type") not in ("vulnerability", "sbom"):
                raise _Answer(501, f"no capability of type {capability.get('type')!r}")
    return body


def _accept_scan(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    request = _validate_scan_request(_read_json(environ))
    # The registry credentials go to the worker in memory, never into the job's row.
    registry = dict(request["registry"])
    authorization = str(registry.pop("authorization", "") or "")
    ScanJob.objects.filter(created__lt=timezone.now() - JOB_RETENTION).delete()
    stored = {**request, "registry": registry}
    job = ScanJob.objects.create(
        request=stored, owner=leases.this_process(), heartbeat=timezone.now()
    )
    leases.start_heartbeat()
    executor().submit(engine.run_job, str(job.pk), authorization)
    return _respond(start_response, 202, {"id": str(job.pk)}, SCAN_RESPONSE_TYPE)


def _report(environ: dict[str, Any], start_response: StartResponse, job_id: str) -> list[bytes]:
    try:
        job = ScanJob.objects.get(pk=uuid.UUID(job_id))
    except (ValueError, ScanJob.DoesNotExist):
        raise _Answer(404, f"no scan request {job_id}") from None
    accept = environ.get("HTTP_ACCEPT", "").strip() or VULN_REPORT_TYPES[1]
    wanted = _negotiate(accept)
    sbom_type = ""
    if wanted == SBOM_REPORT_TYPE:
        query = parse_qs(environ.get("QUERY_STRING", ""))
        sbom_type = (query.get("sbom_media_type") or [""])[0]
        if sbom_type not in sbom.MEDIA_TYPES:
            raise _Answer(400, f"sbom_media_type must be one of {', '.join(sbom.MEDIA_TYPES)}")
    if job.status in leases.UNFINISHED and not leases.end_if_abandoned(job):
        headers = [("Refresh-After", str(REFRESH_AFTER_SECONDS))]
        return _respond(start_response, 302, headers=headers)
    if job.status == ScanJob.ERROR:
        raise _Answer(500, job.message or "the scan failed")
    if wanted == SBOM_REPORT_TYPE:
        return _respond(start_response, 200, engine.sbom_report(job, sbom_type), wanted)
    return _respond(start_response, 200, engine.vulnerability_report(job), wanted)


def _normalize(media_type: str) -> str:
    parts = [p.strip() for p in media_type.split(";")]
    params = sorted(p.replace(" ", "") for p in parts[1:] if p and not p.startswith("q="))
    return ";".join([parts[0].lower(), *params])


def _negotiate(accept: str) -> str:
    """The report type the Accept header names (the first we produce); 501 if none."""
    produced = {_normalize(t): t for t in (*VULN_REPORT_TYPES, SBOM_REPORT_TYPE)}
    for candidate in accept.split(","):
        found = produced.get(_normalize(candidate))
        if found:
            return found
        if candidate.strip().split(";")[0] in ("*/*", "application/*"):
            return VULN_REPORT_TYPES[1]
    raise _Answer(501, f"this scanner produces no report of type {accept}")


_REPORT = re.compile(r"^/api/v1/scan/([^/]+)/report$")


def application(environ: dict[str, Any], start_response: StartResponse) -> list[bytes]:
    method = environ.get("REQUEST_METHOD", "GET")
    path = environ.get("PATH_INFO", "")
    close_old_connections()
    try:
        if not _authorized(environ):
            raise _Answer(401, "the Authorization header is missing or wrong")
        if path == "/api/v1/metadata":
            if method != "GET":
                raise _Answer(405, "use GET")
            return _respond(start_response, 200, metadata(), METADATA_TYPE)
        if path == "/api/v1/scan":
            if method != "POST":
                raise _Answer(405, "use POST")
            return _accept_scan(environ, start_response)
        match = _REPORT.match(path)
        if match:
            if method != "GET":
                raise _Answer(405, "use GET")
            return _report(environ, start_response, match.group(1))
        raise _Answer(404, f"no route {path}")
    except _Answer as answer:
        body = {"error": {"message": answer.message}}
        headers = [("WWW-Authenticate", 'Bearer realm="harbor-py-scanner"')]
        return _respond(
            start_response,
            answer.status,
            body,
            ERROR_TYPE,
            headers if answer.status == 401 else (),
        )
    except Exception:
        log.exception("scanner adapter: %s %s", method, path)
        body = {"error": {"message": "internal error"}}
        return _respond(start_response, 500, body, ERROR_TYPE)
    finally:
        close_old_connections()


def recover_jobs() -> int:
    """At the start of a process: the jobs that processes which are gone left queued or
    running (of this host at once, of any node once their lease is stale) end in an error,
    so that the caller's poll gets an answer instead of waiting for a scan no worker runs."""
    return leases.recover()
