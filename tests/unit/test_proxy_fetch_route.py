"""Where nginx fetches a proxy cache's blob from (proxy_cache/fetch_route.py, issue #24):
the fetch location by the endpoint's TLS settings and the CAs nginx loaded, and the
address the gate resolves for it (nginx's resolver reads no /etc/hosts)."""

from __future__ import annotations

import httpx
import pytest

from proxy_cache import fetch_route
from tests.tls import tls_material


@pytest.fixture
def bundle(settings, tmp_path):
    path = tmp_path / "proxy-upstream-cas.pem"
    settings.HARBOR = {**settings.HARBOR, "PROXY_UPSTREAM_CA_BUNDLE": str(path)}
    return path


def test_the_fetch_location_follows_the_endpoint_s_tls_settings(bundle, tmp_path):
    _, _, ca = tls_material(tmp_path, "registry.test")
    _, _, other = tls_material(tmp_path, "registry.test")
    https = httpx.URL("https://registry.test")
    plain = fetch_route.location(httpx.URL("http://h:5000"), insecure=True, ca_certificate="")
    assert plain == fetch_route.FETCH
    assert fetch_route.location(https, insecure=False, ca_certificate="") == fetch_route.FETCH
    assert fetch_route.location(https, insecure=True, ca_certificate=ca) == (
        fetch_route.FETCH_INSECURE
    )
    # a CA nginx did not load: the gate streams (it checks against that CA alone)
    assert fetch_route.location(https, insecure=False, ca_certificate=ca) is None
    bundle.write_text(other + ca)
    assert fetch_route.location(https, insecure=False, ca_certificate=ca) == fetch_route.FETCH
    assert fetch_route.location(httpx.URL("ftp://h"), insecure=False, ca_certificate="") is None


def test_the_address_is_resolved_by_the_system_ipv4_first():
    assert fetch_route.address(httpx.URL("http://localhost:5000")) == "127.0.0.1"
    assert fetch_route.address(httpx.URL("http://10.1.2.3")) == "10.1.2.3"
    assert fetch_route.address(httpx.URL("http://[::1]:5000")) == "[::1]"
    assert fetch_route.address(httpx.URL("http://no-such-host.invalid")) is None
