"""tests/scanner_adapter.py follows the adapter API v1.2 (shared/reference/scanner/): its
metadata, scan response and reports validate against the OpenAPI document's schemas, so
that what the caller is tested against is what a real adapter answers."""

from __future__ import annotations

import copy
import time
from functools import cache
from typing import Any

import httpx
import jsonschema
import pytest
import yaml

from tests.contract import REFERENCE_DIR
from tests.scanner_adapter import SBOM, VULN, AdapterProcess

SPEC = REFERENCE_DIR / "scanner" / "scanner-adapter-openapi-v1.2.yaml"


@cache
def _components() -> dict[str, Any]:
    return yaml.safe_load(SPEC.read_text())["components"]["schemas"]


def schema(name: str) -> dict[str, Any]:
    """The named schema with its $refs resolved against the document's components."""

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            if "$ref" in node:
                return resolve(copy.deepcopy(_components()[node["$ref"].rsplit("/", 1)[1]]))
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(item) for item in node]
        return node

    return resolve(_components()[name])


@pytest.fixture(scope="module")
def adapter():
    with AdapterProcess() as process:
        process.configure(
            polls=1,
            findings={
                "*": [
                    {
                        "id": "CVE-1",
                        "package": "p",
                        "version": "1",
                        "severity": "High",
                        "links": ["https://example.org/CVE-1"],
                    }
                ]
            },
        )
        yield process


def _report(adapter: AdapterProcess, accept: str) -> httpx.Response:
    body = {
        "registry": {"url": "http://127.0.0.1", "authorization": "Bearer x"},
        "artifact": {"repository": "a/b", "digest": "sha256:" + "0" * 64, "mime_type": VULN},
    }
    accepted = httpx.post(f"{adapter.url}/api/v1/scan", json=body)
    assert accepted.status_code == 202
    jsonschema.validate(accepted.json(), schema("ScanResponse"))
    url = f"{adapter.url}/api/v1/scan/{accepted.json()['id']}/report"
    deadline = time.monotonic() + 10
    while True:
        answer = httpx.get(url, headers={"Accept": accept}, follow_redirects=False)
        if answer.status_code != 302:
            return answer
        assert "Refresh-After" in answer.headers and time.monotonic() < deadline


def test_the_test_adapter_answers_the_adapter_api(adapter):
    metadata = httpx.get(f"{adapter.url}/api/v1/metadata")
    assert metadata.headers["Content-Type"].startswith("application/vnd.scanner.adapter.metadata")
    jsonschema.validate(metadata.json(), schema("ScannerAdapterMetadata"))
    report = _report(adapter, VULN)
    assert report.status_code == 200 and report.headers["Content-Type"] == VULN
    jsonschema.validate(report.json(), schema("HarborVulnerabilityReport"))
    sbom = _report(adapter, SBOM)
    jsonschema.validate(sbom.json(), schema("HarborSbomReport"))
    unknown = httpx.get(f"{adapter.url}/api/v1/scan/nope/report")
    assert unknown.status_code == 404
