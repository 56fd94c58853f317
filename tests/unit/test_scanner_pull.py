"""How the built-in scanner authenticates to the registry of a scan request: a Bearer
value as is, Basic credentials exchanged at the challenge's realm for a pull token."""

from __future__ import annotations

import hashlib
import json

import httpx
import pytest

from scanner import pull

MANIFEST = json.dumps({"schemaVersion": 2, "layers": []}).encode()
DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
CHALLENGE = 'Bearer realm="https://auth.example/service/token",service="harbor-registry"'


def _registry(seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.url.host == "auth.example":
            if request.headers.get("Authorization") != "Basic cm9ib3Q6cHc=":
                return httpx.Response(401)
            return httpx.Response(200, json={"token": "pull-token"})
        if request.headers.get("Authorization") != "Bearer pull-token":
            return httpx.Response(401, headers={"WWW-Authenticate": CHALLENGE})
        kind = "application/vnd.oci.image.manifest.v1+json"
        return httpx.Response(200, content=MANIFEST, headers={"Content-Type": kind})

    return httpx.MockTransport(handle)


def test_basic_credentials_are_exchanged_for_a_pull_token_of_the_repository():
    seen: list[httpx.Request] = []
    registry = pull.Registry(
        "https://core.example", "Basic cm9ib3Q6cHc=", "lib/app", _registry(seen)
    )
    manifest, media_type = registry.manifest(DIGEST)
    assert manifest["schemaVersion"] == 2 and media_type.endswith("manifest.v1+json")
    token_request = seen[1]
    assert token_request.url.params["scope"] == "repository:lib/app:pull"
    assert token_request.url.params["service"] == "harbor-registry"
    assert seen[2].headers["Authorization"] == "Bearer pull-token"


def test_a_bearer_value_is_sent_as_is_and_never_exchanged():
    seen: list[httpx.Request] = []
    registry = pull.Registry(
        "https://core.example", "Bearer pull-token", "lib/app", _registry(seen)
    )
    registry.manifest(DIGEST)
    assert [r.url.host for r in seen] == ["core.example"]
    wrong = pull.Registry("https://core.example", "Bearer other", "lib/app", _registry([]))
    with pytest.raises(pull.PullError, match="401"):
        wrong.manifest(DIGEST)


def test_a_manifest_whose_content_is_not_its_digest_is_refused():
    registry = pull.Registry("https://core.example", "Bearer pull-token", "lib/app", _registry([]))
    with pytest.raises(pull.PullError, match="content digest"):
        registry.manifest("sha256:" + "f" * 64)
