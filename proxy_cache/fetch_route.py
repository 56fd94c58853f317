"""How nginx reaches an upstream for a blob fetch handed over to it (proxy_cache/blobs.py,
deploy/nginx.conf): which fetch location (certificates checked against the bundle nginx
loaded, or not at all for an endpoint marked insecure), and the address.

The gate resolves the upstream's name itself (the system's resolver: /etc/hosts, then
DNS, as the gate's own requests to it do) and gives nginx the address, with the name for
the Host header, SNI and the certificate check: nginx's `resolver` reads no /etc/hosts
and would need a name server; it is used only for a redirect's host (a CDN)."""

from __future__ import annotations

import ipaddress
import logging
import os
import re
import socket
import ssl
import threading
import time

import httpx
from django.conf import settings
from django.db import DatabaseError

from replication.models import RegistryEndpoint

logger = logging.getLogger(__name__)

FETCH = "/_harbor_proxy_fetch"
FETCH_INSECURE = "/_harbor_proxy_fetch_insecure"
ADDRESS_SECONDS = 30.0  # how long a resolved address is reused
_CERTIFICATE = re.compile(r"-----BEGIN CERTIFICATE-----[A-Za-z0-9+/=\s]+-----END CERTIFICATE-----")
_lock = threading.Lock()
_addresses: dict[tuple[str, int], tuple[str, float]] = {}
_bundle: tuple[float, frozenset[bytes]] = (-1.0, frozenset())


def location(url: httpx.URL, *, insecure: bool, ca_certificate: str) -> str | None:
    """The fetch location for an endpoint, None when nginx cannot check its certificate
    as the gate does (a CA of the endpoint's that nginx's bundle does not hold: it was
    added after nginx started; `platform prepare` writes the bundle)."""
    if url.scheme == "http":
        return FETCH
    if url.scheme != "https":
        return None
    if insecure:
        return FETCH_INSECURE
    if ca_certificate and not _certificates(ca_certificate) <= _trusted():
        return None
    return FETCH


def _certificates(pem: str) -> frozenset[bytes]:
    found = set()
    for block in _CERTIFICATE.findall(pem):
        try:
            found.add(ssl.PEM_cert_to_DER_cert(block))
        except ValueError:
            continue
    return frozenset(found)


def _trusted() -> frozenset[bytes]:
    """The certificates of nginx's bundle for upstream fetches (read again when the file
    changes)."""
    global _bundle
    path = str(settings.HARBOR["PROXY_UPSTREAM_CA_BUNDLE"])
    try:
        changed = os.stat(path).st_mtime
    except OSError:
        return frozenset()
    with _lock:
        if _bundle[0] != changed:
            with open(path) as handle:
                _bundle = (changed, _certificates(handle.read()))
        return _bundle[1]


def address(url: httpx.URL) -> str | None:
    """`url`'s host resolved to an address for nginx's proxy_pass (IPv6 bracketed), None
    when it does not resolve (the gate's own request reports why)."""
    host = url.host
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return f"[{host}]" if ":" in host else host
    port = url.port or (443 if url.scheme == "https" else 80)
    now = time.monotonic()
    with _lock:
        cached = _addresses.get((host, port))
    if cached is not None and cached[1] > now:
        return cached[0]
    found = None
    for family in (socket.AF_INET, socket.AF_UNSPEC):  # IPv4 first, as nginx's resolver had
        try:
            found = socket.getaddrinfo(host, port, family=family, type=socket.SOCK_STREAM)
            break
        except OSError:
            continue
    if not found:
        return None
    ip = str(found[0][4][0])
    resolved = f"[{ip}]" if ":" in ip else ip
    with _lock:
        if len(_addresses) > 1000:
            _addresses.clear()
        _addresses[(host, port)] = (resolved, now + ADDRESS_SECONDS)
    return resolved


SYSTEM_CAS = "/etc/ssl/certs/ca-certificates.crt"


def write_ca_bundle(path: str, extra_file: str = "", *, with_endpoints: bool = False) -> None:
    """nginx's CAs for upstream fetches (deploy/nginx.conf): the system's, the PEM file
    the admin names (HARBOR_PROXY_UPSTREAM_CAS) and, `with_endpoints`, every registry
    endpoint's own CA as the database holds them now (`platform prepare` and
    `serve nginx` write it before nginx starts)."""
    parts = []
    for source in (SYSTEM_CAS, extra_file):
        if source and os.path.exists(source):
            with open(source) as handle:
                parts.append(handle.read())
    if with_endpoints:
        try:
            parts += RegistryEndpoint.objects.exclude(ca_certificate="").values_list(
                "ca_certificate", flat=True
            )
        except DatabaseError:  # not migrated yet: the gate streams from those upstreams
            logger.warning("proxy cache: the endpoints' CAs are not in nginx's bundle yet")
    partial = f"{path}.partial"
    with open(partial, "w") as handle:
        handle.write("".join(p.strip() + "\n" for p in parts if p.strip()))
    os.replace(partial, path)
