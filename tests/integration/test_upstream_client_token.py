"""The gate forwards the client's own (verified) token to distribution instead of minting
an internal one per repository, and falls back to an internal token if distribution
refuses it (a real distribution)."""

from __future__ import annotations

import httpx
import pytest

from registry import upstream
from registry.manifests import MANIFEST_ACCEPT
from tests.distribution import bearer, push_image, put_manifest, stored_manifest, upload_blob
from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, random_layer

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]


@pytest.fixture
def minted(monkeypatch) -> list[tuple[str, frozenset[str]]]:
    """The internal tokens minted from here on: (repository, actions)."""
    calls: list[tuple[str, frozenset[str]]] = []
    real = upstream.internal_token

    def spy(repository: str, actions: frozenset[str], **kwargs: object) -> str:
        calls.append((repository, actions))
        return real(repository, actions, **kwargs)  # type: ignore[arg-type]  # passed through

    monkeypatch.setattr(upstream, "internal_token", spy)
    return calls


def _head_manifest(digest: str, client_token: str) -> httpx.Response:
    """HEAD of ct/app's manifest in distribution, sent with `client_token`."""
    return upstream.request(
        "HEAD",
        "ct/app",
        f"/v2/ct/app/manifests/{digest}",
        frozenset({"pull"}),
        headers={"Accept": MANIFEST_ACCEPT},
        client_token=client_token,
    )


def test_a_manifest_push_through_the_gate_uses_the_clients_token(
    distribution, make_user, make_project, minted
):
    make_project("ct", owner=make_user("alice"))
    layer, config = random_layer(256), b'{"architecture":"amd64","os":"linux"}'
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": OCI_CONFIG,
            "digest": upload_blob("ct/app", config),
            "size": len(config),
        },
        "layers": [
            {
                "mediaType": OCI_LAYER_GZIP,
                "digest": upload_blob("ct/app", layer),
                "size": len(layer),
            }
        ],
    }
    minted.clear()  # the uploads above went straight to distribution, as nginx sends them
    upstream._tokens.clear()
    response = put_manifest("alice", "ct/app", "v1", doc, OCI_MANIFEST)
    assert response.status_code == 201, response.content
    assert minted == []
    digest = response["Docker-Content-Digest"]
    assert stored_manifest("ct/app", digest).status_code == 200


def test_the_clients_token_is_sent_as_it_is(distribution, make_user, make_project, minted):
    make_project("ct", owner=make_user("alice"))
    digest = push_image("alice", "ct/app", "v1")
    before = len(minted)
    token = bearer("alice", "ct/app", {"pull"})[len("Bearer ") :]
    assert _head_manifest(digest, token).status_code == 200
    assert len(minted) == before


def test_a_token_distribution_refuses_falls_back_to_an_internal_one(
    distribution, make_user, make_project, minted
):
    make_project("ct", owner=make_user("alice"))
    digest = push_image("alice", "ct/app", "v1")
    before = len(minted)
    other_repository = bearer("alice", "ct/other", {"pull"})[len("Bearer ") :]
    for refused in ("not-a-token", other_repository):
        assert _head_manifest(digest, refused).status_code == 200
    assert minted[before:] == [("ct/app", frozenset({"pull"}))] * 2
