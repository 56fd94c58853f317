"""A scanner adapter for tests: Harbor's pluggable scanner API v1.2
(shared/reference/scanner/) with canned findings, that can also answer slowly, with errors
and with malformed reports. A separate process on a free port:

    with AdapterProcess() as adapter:          # python -m tests.scanner_adapter --port 0
        adapter.configure(mode="ok", findings={digest: [...]})
        adapter.url                              # http://127.0.0.1:<port>
        adapter.requests()                       # the scan requests it received

Findings are given per digest ("*": any other digest). Modes (POST /control): ok (a
report after `polls` answers of 302, each with `Refresh-After: refresh_after`, else 0),
slow (302 forever),
error (the report GET answers 500), refuse (POST /scan answers 500), garbage (the report
is not JSON), malformed (JSON, but `vulnerabilities` is not a list), bad_metadata.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

VULN = "application/vnd.security.vulnerability.report; version=1.1"
SBOM = "application/vnd.security.sbom.report+json; version=1.0"
MANIFESTS = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
]
METADATA = {
    "scanner": {"name": "TestScanner", "vendor": "harbor-py tests", "version": "1.0"},
    "capabilities": [
        {"type": "vulnerability", "consumes_mime_types": MANIFESTS, "produces_mime_types": [VULN]},
        {
            "type": "sbom",
            "consumes_mime_types": MANIFESTS,
            "produces_mime_types": [SBOM],
            "additional_attributes": {"sbom_media_types": ["application/spdx+json"]},
        },
    ],
    "properties": {"harbor.scanner-adapter/scanner-type": "os-package-vulnerability"},
}


class State:
    def __init__(self, api_key: str = "") -> None:
        self.lock = threading.Lock()
        self.mode = "ok"
        self.polls = 1
        self.refresh_after: str | None = None  # the Refresh-After of a 302, else by mode
        self.findings: dict[str, list[dict[str, Any]]] = {}
        self.scans: dict[str, dict[str, Any]] = {}
        self.requests: list[dict[str, Any]] = []
        self.api_key = api_key


class Handler(BaseHTTPRequestHandler):
    state: State

    def log_message(self, *args: Any) -> None:
        pass

    def _send(
        self,
        status: int,
        body: Any = None,
        content_type: str = "application/json",
        headers: dict[str, str] | None = None,
    ) -> None:
        raw = (
            body
            if isinstance(body, bytes)
            else json.dumps(body).encode()
            if body is not None
            else b""
        )
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(raw)))
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        self.end_headers()
        self.wfile.write(raw)

    def _error(self, status: int, message: str) -> None:
        self._send(
            status,
            {"error": {"message": message}},
            "application/vnd.scanner.adapter.error+json; version=1.0",
        )

    def _authorized(self) -> bool:
        if (
            self.state.api_key
            and self.headers.get("X-ScannerAdapter-API-Key") != self.state.api_key
        ):
            self._error(401, "wrong api key")
            return False
        return True

    def _body(self) -> Any:
        length = int(self.headers.get("Content-Length") or 0)
        return json.loads(self.rfile.read(length) or b"null")

    def do_GET(self) -> None:
        state = self.state
        if self.path == "/control/requests":
            with state.lock:
                return self._send(200, state.requests)
        if not self._authorized():
            return None
        if self.path == "/api/v1/metadata":
            if state.mode == "bad_metadata":
                return self._send(200, {"scanner": "nope"})
            return self._send(
                200, METADATA, "application/vnd.scanner.adapter.metadata+json; version=1.1"
            )
        parts = self.path.split("?")[0].split("/")
        if len(parts) == 6 and parts[:4] == ["", "api", "v1", "scan"] and parts[5] == "report":
            return self._report(parts[4])
        return self._error(404, "not found")

    def _report(self, scan_id: str) -> None:
        state = self.state
        with state.lock:
            scan = state.scans.get(scan_id)
            if scan is None:
                return self._error(404, "unknown scan request")
            scan["polls"] += 1
            mode, polls, refresh = state.mode, state.polls, state.refresh_after
            digest = scan["artifact"]["digest"]
            findings = state.findings.get(digest, state.findings.get("*", []))
        if mode == "slow" or scan["polls"] <= polls:
            if refresh is None:
                refresh = "0" if mode != "slow" else "1"
            return self._send(302, None, headers={"Refresh-After": refresh})
        if mode == "error":
            return self._error(500, "the test scanner failed")
        if mode == "garbage":
            return self._send(200, b"<html>not a report</html>", VULN)
        if mode == "malformed":
            return self._send(200, {"vulnerabilities": "none"}, VULN)
        accept = self.headers.get("Accept", "")
        if accept == SBOM:
            document = {
                "spdxVersion": "SPDX-2.3",
                "name": scan["artifact"]["repository"],
                "packages": [{"name": f["package"], "versionInfo": f["version"]} for f in findings],
            }
            return self._send(
                200,
                {
                    "generated_at": "2026-01-01T00:00:00Z",
                    "artifact": scan["artifact"],
                    "scanner": METADATA["scanner"],
                    "media_type": "application/spdx+json",
                    "sbom": document,
                },
                SBOM,
            )
        top = "None"
        order = ["None", "Unknown", "Negligible", "Low", "Medium", "High", "Critical"]
        for finding in findings:
            if order.index(finding["severity"]) > order.index(top):
                top = finding["severity"]
        return self._send(
            200,
            {
                "generated_at": "2026-01-01T00:00:00Z",
                "artifact": scan["artifact"],
                "scanner": METADATA["scanner"],
                "severity": top,
                "vulnerabilities": findings,
            },
            VULN,
        )

    def do_POST(self) -> None:
        state = self.state
        if self.path == "/control":
            body = self._body()
            with state.lock:
                state.mode = body.get("mode", state.mode)
                state.polls = body.get("polls", state.polls)
                state.refresh_after = body.get("refresh_after", state.refresh_after)
                if "findings" in body:
                    state.findings = body["findings"]
            return self._send(200, {})
        if not self._authorized():
            return None
        if self.path != "/api/v1/scan":
            return self._error(404, "not found")
        if state.mode == "refuse":
            return self._error(500, "the test scanner refuses to scan")
        try:
            body = self._body()
            artifact = body["artifact"]
            assert isinstance(body["registry"]["url"], str)
        except (ValueError, KeyError, TypeError, AssertionError):
            return self._error(400, "invalid scan request")
        scan_id = uuid.uuid4().hex
        with state.lock:
            state.scans[scan_id] = {"artifact": artifact, "polls": 0}
            state.requests.append({"body": body, "content_type": self.headers.get("Content-Type")})
        return self._send(
            202, {"id": scan_id}, "application/vnd.scanner.adapter.scan.response+json; version=1.0"
        )


def serve(port: int, api_key: str = "") -> None:
    handler = type("BoundHandler", (Handler,), {"state": State(api_key)})
    server = ThreadingHTTPServer(("127.0.0.1", port), handler)
    print(server.server_address[1], flush=True)
    server.serve_forever()


class AdapterProcess:
    """Start the adapter as its own process on a free port (it prints the port)."""

    def __init__(self, api_key: str = "") -> None:
        self.api_key = api_key
        self.process: subprocess.Popen[str] | None = None
        self.url = ""

    def __enter__(self) -> AdapterProcess:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.scanner_adapter",
                "--port",
                "0",
                "--api-key",
                self.api_key,
            ],
            stdout=subprocess.PIPE,
            text=True,
            env=env,
        )
        assert self.process.stdout is not None
        port = int(self.process.stdout.readline().strip())
        self.url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                httpx.get(self.url + "/control/requests", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)

    def configure(self, **settings: Any) -> None:
        httpx.post(self.url + "/control", json=settings, timeout=5).raise_for_status()

    def requests(self) -> list[dict[str, Any]]:
        return httpx.get(self.url + "/control/requests", timeout=5).json()


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--api-key", default="")
    args = parser.parse_args()
    serve(args.port, args.api_key)
