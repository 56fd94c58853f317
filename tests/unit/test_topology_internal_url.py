"""harbor_py.topology.internal_url: the URL of nginx's listen address from this machine,
what a scanner registered with use_internal_addr is given (scanning.scans)."""

import pytest

from harbor_py.topology import internal_url


@pytest.mark.parametrize(
    ("listen", "url"),
    [
        ("127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("0.0.0.0:80", "http://127.0.0.1:80"),
        ("[::]:8443", "http://127.0.0.1:8443"),
        ("8080", "http://127.0.0.1:8080"),
        ("10.0.0.7:8080 reuseport", "http://10.0.0.7:8080"),
    ],
)
def test_internal_url(listen, url):
    assert internal_url(listen) == url
