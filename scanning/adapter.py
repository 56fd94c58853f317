"""The client of a scanner adapter (Harbor's pluggable scanner API v1.2,
shared/reference/scanner/): metadata, scan requests and report polling.

Every failure of the adapter (unreachable, an error status, a body that is not what the
spec says) is an AdapterError with a message for the report's status; nothing here retries
forever: the caller polls with a deadline (scanning.scans).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from typing import Any

import httpx

METADATA_ACCEPT = (
    "application/vnd.scanner.adapter.metadata+json; version=1.1, "
    "application/vnd.scanner.adapter.metadata+json; version=1.0"
)
SCAN_REQUEST = "application/vnd.scanner.adapter.scan.request+json; version=1.1"
VULN_REPORT = "application/vnd.security.vulnerability.report; version=1.1"
VULN_REPORT_V10 = "application/vnd.scanner.adapter.vuln.report.harbor+json; version=1.0"
SBOM_REPORT = "application/vnd.security.sbom.report+json; version=1.0"
SPDX = "application/spdx+json"
CYCLONEDX = "application/vnd.cyclonedx+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

AUTH_TYPES = ("", "Basic", "Bearer", "X-ScannerAdapter-API-Key")
TIMEOUT = httpx.Timeout(10.0, connect=5.0)


class AdapterError(Exception):
    """The adapter could not be used; str() is the message for the report and the API."""


@dataclass(frozen=True)
class Endpoint:
    url: str
    auth: str = ""
    credential: str = ""
    skip_cert_verify: bool = False

    def headers(self) -> dict[str, str]:
        if not self.auth or not self.credential:
            return {}
        if self.auth == "Basic":
            return {"Authorization": "Basic " + base64.b64encode(self.credential.encode()).decode()}
        if self.auth == "Bearer":
            return {"Authorization": f"Bearer {self.credential}"}
        return {"X-ScannerAdapter-API-Key": self.credential}

    def _url(self, path: str) -> str:
        return self.url.rstrip("/") + "/api/v1" + path

    def call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {**self.headers(), **kwargs.pop("headers", {})}
        try:
            with httpx.Client(verify=not self.skip_cert_verify, timeout=TIMEOUT) as client:
                return client.request(method, self._url(path), headers=headers, **kwargs)
        except httpx.TimeoutException:
            raise AdapterError(
                f"the scanner adapter at {self.url} did not answer in time"
            ) from None
        except httpx.HTTPError as exc:
            raise AdapterError(f"the scanner adapter at {self.url} is unreachable: {exc}") from None
        except (httpx.InvalidURL, ValueError) as exc:  # a registration stored before its check
            raise AdapterError(f"the scanner adapter URL {self.url} is invalid: {exc}") from None


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise AdapterError(
            f"the scanner adapter answered {what} with a body that is not JSON"
        ) from None


def _error_text(response: httpx.Response) -> str:
    try:
        body = response.json()
        message = body.get("error", {}).get("message") if isinstance(body, dict) else None
    except ValueError:
        message = None
    return message or response.text[:200] or response.reason_phrase


def _strings(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(item, str) for item in value)


def check_metadata(body: Any) -> dict[str, Any]:
    """ScannerAdapterMetadata as the spec requires it: scanner and capabilities."""
    if not isinstance(body, dict):
        raise AdapterError("the scanner adapter's metadata is not an object")
    scanner, capabilities = body.get("scanner"), body.get("capabilities")
    if not isinstance(scanner, dict) or not isinstance(scanner.get("name"), str):
        raise AdapterError("the scanner adapter's metadata has no scanner name")
    if not isinstance(capabilities, list) or not capabilities:
        raise AdapterError("the scanner adapter's metadata lists no capabilities")
    for capability in capabilities:
        if not (
            isinstance(capability, dict)
            and _strings(capability.get("consumes_mime_types"))
            and _strings(capability.get("produces_mime_types"))
        ):
            raise AdapterError("a capability of the scanner adapter's metadata is malformed")
    properties = body.get("properties")
    return {
        "scanner": {k: str(scanner.get(k, "")) for k in ("name", "vendor", "version")},
        "capabilities": [
            {
                "type": c.get("type") or "vulnerability",
                "consumes_mime_types": c["consumes_mime_types"],
                "produces_mime_types": c["produces_mime_types"],
                **(
                    {"additional_attributes": c["additional_attributes"]}
                    if isinstance(c.get("additional_attributes"), dict)
                    else {}
                ),
            }
            for c in capabilities
        ],
        "properties": {str(k): str(v) for k, v in properties.items()}
        if isinstance(properties, dict)
        else {},
    }


def metadata(endpoint: Endpoint) -> dict[str, Any]:
    response = endpoint.call("GET", "/metadata", headers={"Accept": METADATA_ACCEPT})
    if response.status_code != 200:
        raise AdapterError(
            f"the scanner adapter refused its metadata ({response.status_code}): "
            + _error_text(response)
        )
    return check_metadata(_json(response, "metadata"))


def capability(meta: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for item in meta.get("capabilities", []):
        if item.get("type", "vulnerability") == kind:
            return item
    return None


def accept_scan(endpoint: Endpoint, request: dict[str, Any]) -> str:
    """POST /scan; the scan request id."""
    response = endpoint.call(
        "POST",
        "/scan",
        content=json.dumps(request).encode(),
        headers={
            "Content-Type": SCAN_REQUEST,
            "Accept": "application/vnd.scanner.adapter.scan.response+json; version=1.0",
        },
    )
    if response.status_code != 202:
        raise AdapterError(
            f"the scanner adapter refused the scan request ({response.status_code}): "
            + _error_text(response)
        )
    body = _json(response, "the scan request")
    if not isinstance(body, dict) or not isinstance(body.get("id"), str) or not body["id"]:
        raise AdapterError("the scanner adapter answered the scan request without an id")
    return body["id"]


@dataclass(frozen=True)
class Poll:
    """One GET of a report: `report` when it is ready, else `retry_after` seconds."""

    report: Any = None
    retry_after: float | None = None


def get_report(
    endpoint: Endpoint, request_id: str, mime_type: str, sbom_media_type: str = ""
) -> Poll:
    params = {"sbom_media_type": sbom_media_type} if sbom_media_type else None
    response = endpoint.call(
        "GET",
        f"/scan/{request_id}/report",
        headers={"Accept": mime_type},
        params=params,
        follow_redirects=False,
    )
    if response.status_code == 302:
        raw = response.headers.get("Refresh-After", "")
        try:
            return Poll(retry_after=max(0.0, float(raw)))
        except ValueError:
            return Poll(retry_after=None)
    if response.status_code != 200:
        raise AdapterError(
            f"the scanner adapter failed the scan ({response.status_code}): "
            + _error_text(response)
        )
    return Poll(report=_json(response, "the report"))
