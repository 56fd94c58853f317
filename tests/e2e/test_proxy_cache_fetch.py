"""The proxy cache's blob fetch handed to nginx (issue #24, deploy/nginx.conf): a redirect
to another host (Docker Hub's CDN) followed by nginx, an upstream that refuses nginx's
GET handed back to the gate, and HTTPS upstreams (a private CA, or one marked insecure)
reached by name. Real distributions as upstream and CDN, fronted by the logging relay
of tests/proxy_upstream.py; skopeo and plain HTTP clients."""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import httpx
import pytest

from tests.e2e.test_proxy_cache import (
    ACCEPT,
    job_log,
    proxy_project,
    pull,
    token,
    wait_cached,
)
from tests.imagegen import layout_blobs
from tests.proxy_upstream import BareRegistry, FaultyRelay, bare_registry, push_image, put_blob
from tests.stack import Instance, running_instance

API = "/api/v2.0"
BY_NGINX = "(by nginx): checked against the digest and cached"


def test_blob_gets_redirected_to_a_cdn_are_followed_by_nginx_without_the_credentials(
    stack: Instance, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    with (
        bare_registry(tmp_path_factory.mktemp("hub"), htpasswd=("hubuser", "hubsecret")) as hub,
        bare_registry(tmp_path_factory.mktemp("cdn")) as storage,
        FaultyRelay(hub.url) as front,
        FaultyRelay(storage.url) as cdn,
    ):
        image = push_image(hub, "team/app", "v1", layer_sizes=(2_000_000, 5000))
        for data in image.blobs.values():  # the CDN serves the same bytes at the same path
            put_blob(storage, "team/app", data)
        front.redirect_blobs_to = cdn.url
        cdn.refuse_authorization = True  # a signed URL: the upstream's credentials stay home
        project = proxy_project(stack, front.url, credentials=("hubuser", "hubsecret"))

        pull(stack, f"{project}/team/app:v1", tmp_path / "cold")
        got = layout_blobs(tmp_path / "cold")
        assert all(got[digest] == data for digest, data in image.blobs.items())
        for digest in image.blobs:
            assert front.count("GET", f"/blobs/{digest}") == 1  # answered 307
            assert cdn.count("GET", f"/blobs/{digest}") == 1  # fetched once, by nginx
        wait_cached(stack, f"{project}/team/app", list(image.blobs))
        log = job_log(stack, project)
        assert log.count(BY_NGINX) == len(image.blobs)
        assert "(streamed)" not in log


def test_an_upstream_refusing_nginx_s_fetch_hands_the_blob_back_to_the_gate(
    stack: Instance, tmp_path_factory: pytest.TempPathFactory
):
    with (
        bare_registry(tmp_path_factory.mktemp("up")) as registry,
        FaultyRelay(registry.url) as relay,
    ):
        image = push_image(registry, "team/app", "v1", layer_sizes=(1_000_000,))
        layer = image.manifest["layers"][0]["digest"]
        project = proxy_project(stack, relay.url)
        headers = {"Authorization": f"Bearer {token(stack, f'{project}/team/app')}"}
        with httpx.Client(base_url=stack.url, headers=headers, timeout=60) as client:
            manifest = client.get(
                f"/v2/{project}/team/app/manifests/v1", headers={"Accept": ACCEPT}
            )
            assert manifest.status_code == 200, manifest.text
            # nginx's GET meets a 401 (a token that expired, a challenge nginx cannot
            # answer): the client never sees it, the gate fetches and streams the blob
            relay.fail_next_blob_get = 401
            blob = client.get(f"/v2/{project}/team/app/blobs/{layer}")
        assert blob.status_code == 200, blob.text
        assert "sha256:" + hashlib.sha256(blob.content).hexdigest() == layer
        assert relay.fail_next_blob_get is None  # nginx's GET was refused
        assert relay.count("GET", f"/blobs/{layer}") == 2
        wait_cached(stack, f"{project}/team/app", [layer])
        log = job_log(stack, project)
        assert f"fetched blob {layer} of {project}/team/app" in log
        assert "(streamed): cached" in log


def _tls_project(stack: Instance, registry: BareRegistry, *, insecure: bool) -> str:
    name = f"px{uuid.uuid4().hex[:8]}"
    body = {"name": f"ep-{name}", "type": "docker-registry", "url": registry.url}
    body |= {"insecure": True} if insecure else {"insecure": False, "ca_certificate": registry.ca}
    with stack.client() as api:
        created = api.post(f"{API}/registries", json=body)
        assert created.status_code == 201, created.text
        endpoint = int(created.headers["Location"].rsplit("/", 1)[1])
        project = api.post(
            f"{API}/projects",
            json={"project_name": name, "registry_id": endpoint, "metadata": {"public": "false"}},
        )
    assert project.status_code == 201, project.text
    return name


def _pulled_by(stack: Instance, registry: BareRegistry, project: str, dest: Path) -> str:
    """Pull a new image through `project`: "nginx" when nginx fetched every blob, else
    the project's job log."""
    tag = f"t{uuid.uuid4().hex[:6]}"
    image = push_image(registry, "team/app", tag, layer_sizes=(500_000,))
    pull(stack, f"{project}/team/app:{tag}", dest)
    assert set(image.blobs) <= set(layout_blobs(dest))
    wait_cached(stack, f"{project}/team/app", list(image.blobs))
    log = job_log(stack, project)
    return "nginx" if log.count(BY_NGINX) == len(image.blobs) else log


def test_an_https_upstream_by_name_marked_insecure_is_fetched_by_nginx(
    stack: Instance, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    # `localhost`: a name from /etc/hosts, which nginx's resolver would not read (the gate
    # resolves it); a certificate nginx cannot check, which the admin told it to skip
    with bare_registry(tmp_path_factory.mktemp("tls"), tls_name="localhost") as registry:
        project = _tls_project(stack, registry, insecure=True)
        assert _pulled_by(stack, registry, project, tmp_path / "a") == "nginx"


def test_an_https_upstream_of_a_ca_nginx_did_not_load_is_streamed_by_the_gate(
    stack: Instance, tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    # the endpoint came after nginx started: the gate streams, checking the certificate
    # against the endpoint's CA (nginx could check it against the system's CAs only)
    with bare_registry(tmp_path_factory.mktemp("tls"), tls_name="localhost") as registry:
        project = _tls_project(stack, registry, insecure=False)
        log = _pulled_by(stack, registry, project, tmp_path / "a")
        assert "(streamed): cached" in log


@pytest.mark.slow
def test_an_https_upstream_of_a_private_ca_in_nginx_s_bundle_is_fetched_by_nginx(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
):
    # the CA in nginx's bundle (HARBOR_PROXY_UPSTREAM_CAS here; the endpoints' own at the
    # next `platform prepare`): nginx fetches and checks the certificate itself
    with bare_registry(tmp_path_factory.mktemp("tls"), tls_name="localhost") as registry:
        cas = tmp_path / "cas.pem"
        cas.write_text(registry.ca)
        with running_instance(
            tmp_path_factory.mktemp("ca-instance"),
            extra_env={"HARBOR_PROXY_UPSTREAM_CAS": str(cas)},
        ) as other:
            project = _tls_project(other, registry, insecure=False)
            assert _pulled_by(other, registry, project, tmp_path / "b") == "nginx"
