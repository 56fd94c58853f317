"""Sending one webhook request, safely: no credentials of the registry (a bare connection
pool that ignores the environment: no proxy variables, no .netrc, no cookies), no redirect to
another host, bounded time and response size, and targets on loopback or private
addresses refused when WEBHOOK_REFUSE_PRIVATE_TARGETS is on (docs/webhooks.md)."""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import socket
import time
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx
from django.conf import settings

from harbor_py.core.http import http_url_problem

CONNECT_TIMEOUT = 3.0
READ_TIMEOUT = 10.0
TOTAL_TIMEOUT = 15.0  # the whole exchange of one attempt, body included
MAX_RESPONSE_BYTES = 64 * 1024
EXCERPT_CHARS = 512
MAX_SAME_HOST_REDIRECTS = 3
SIGNATURE_HEADER = "X-Harbor-Signature-256"
USER_AGENT = "harbor-py-webhook/1"


class Refused(Exception):
    """A target this server will not send to (its address, a redirect elsewhere)."""


@dataclass(frozen=True)
class Outcome:
    status: int | None  # None: no HTTP answer (connection refused, reset, time-out)
    excerpt: str
    error: str = ""
    retryable: bool = False

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def refuse_private() -> bool:
    return bool(getattr(settings, "WEBHOOK_REFUSE_PRIVATE_TARGETS", True))


def _private(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not ip.is_global or ip.is_multicast


def check_address(url: str) -> str | None:
    """Raise Refused for a URL that is not http(s), or (with the setting on) whose host
    resolves to a loopback, private, link-local or otherwise non-global address. Returns
    the checked address to connect to (None when the setting is off): the request goes
    there and nowhere else, so a DNS answer that changes after the check (rebinding) does
    not reach a private address."""
    if problem := http_url_problem(url):
        raise Refused(f"{url!r} is not an http or https URL: {problem}")
    parts = urlsplit(url)
    if not refuse_private():
        return None
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except OSError as exc:
        raise Refused(f"{parts.hostname} cannot be resolved: {exc}") from None
    for info in infos:
        if _private(str(info[4][0])):
            raise Refused(
                f"{parts.hostname} resolves to {info[4][0]}, a loopback or private address "
                "(WEBHOOK_REFUSE_PRIVATE_TARGETS)"
            )
    if not infos:
        raise Refused(f"{parts.hostname} resolves to no address")
    return str(infos[0][4][0])


def pinned_request(url: str, address: str | None) -> tuple[str, dict[str, str], dict[str, str]]:
    """(the URL to connect to, the headers and the httpx extensions) that send a request
    for `url` to the checked `address`: the URL names the address, `Host` and the TLS
    server name (SNI, and the name the certificate is checked against) stay the URL's."""
    if address is None:
        return url, {}, {}
    parts = urlsplit(url)
    assert parts.hostname is not None  # check_address refused a URL without one
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    userinfo, _, host = parts.netloc.rpartition("@")
    netloc = (f"{userinfo}@" if userinfo else "") + literal
    netloc += f":{parts.port}" if parts.port else ""
    extensions = {"sni_hostname": parts.hostname} if parts.scheme == "https" else {}
    return parts._replace(netloc=netloc).geturl(), {"Host": host}, extensions


def signature(secret: str, body: bytes) -> str:
    """The value of X-Harbor-Signature-256: `sha256=` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _same_origin(a: str, b: str) -> bool:
    pa, pb = urlsplit(a), urlsplit(b)
    return (pa.scheme, pa.hostname, pa.port) == (pb.scheme, pb.hostname, pb.port)


def send(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    verify: bool = True,
    timeout: float = TOTAL_TIMEOUT,
) -> Outcome:
    """POST once (following only redirects to the same scheme, host and port, which keep
    the method: 307/308). Retryable: no answer, a time-out, a 5xx."""
    deadline = time.monotonic() + timeout
    pool = _pool(verify)
    for _ in range(MAX_SAME_HOST_REDIRECTS + 1):
        address = check_address(url)
        try:
            outcome, location = _exchange(pool, url, address, body, headers, deadline)
        except (httpcore.TimeoutException, TimeoutError) as exc:
            return Outcome(None, "", f"timed out: {exc or type(exc).__name__}", True)
        except _NO_ANSWER as exc:
            return Outcome(None, "", f"{type(exc).__name__}: {exc}", True)
        if location is None:
            return outcome
        target = urljoin(url, location)
        if outcome.status not in (307, 308) or not _same_origin(url, target):
            return Outcome(
                outcome.status,
                outcome.excerpt,
                f"redirect to {target} refused (only 307/308 to the same host are followed)",
            )
        url = target
    return Outcome(None, "", "too many redirects")


# What httpcore raises when a request got no HTTP answer (its time-outs apart).
_NO_ANSWER = (
    httpcore.NetworkError,
    httpcore.ProtocolError,
    httpcore.UnsupportedProtocol,
    httpcore.ConnectionNotAvailable,
)


@lru_cache(maxsize=2)
def _pool(verify: bool) -> httpcore.ConnectionPool:
    """One connection pool per process and certificate check (building the TLS context
    costs about 25 ms of CPU, more than the rest of a delivery). httpcore, not an httpx
    client: no cookie jar, no authentication, no proxy or .netrc from the environment, no
    redirects (send follows the allowed ones itself), and less CPU per request (0.45 ms
    on loopback, against 0.62-0.85 for the httpx client). No keep-alive: a connection a
    receiver dropped meanwhile would fail the next delivery, and on loopback a kept
    connection cost more CPU per request, not less."""
    return httpcore.ConnectionPool(
        ssl_context=httpx.create_ssl_context(verify=verify, trust_env=False),
        max_keepalive_connections=0,
    )


def _exchange(
    pool: httpcore.ConnectionPool,
    url: str,
    address: str | None,
    body: bytes,
    headers: dict[str, str],
    deadline: float,
) -> tuple[Outcome, str | None]:
    connect_to, host, extensions = pinned_request(url, address)
    sent = {"User-Agent": USER_AGENT, **headers, **host}
    timeouts = {"connect": CONNECT_TIMEOUT, "read": READ_TIMEOUT, "write": READ_TIMEOUT}
    with pool.stream(
        "POST",
        connect_to,
        content=body,
        headers=[(name.encode(), value.encode()) for name, value in sent.items()],
        extensions={**extensions, "timeout": {**timeouts, "pool": CONNECT_TIMEOUT}},
    ) as response:
        received = bytearray()
        for chunk in response.iter_stream():
            received.extend(chunk[: MAX_RESPONSE_BYTES - len(received)])
            if len(received) >= MAX_RESPONSE_BYTES:
                break  # the rest is not read: the connection is closed
            if time.monotonic() > deadline:
                raise TimeoutError(f"the response took longer than {TOTAL_TIMEOUT:.0f} s")
        excerpt = received[: EXCERPT_CHARS * 4].decode("utf-8", "replace")[:EXCERPT_CHARS]
        status = response.status
        location = None
        if 300 <= status < 400:
            found = [value for name, value in response.headers if name.lower() == b"location"]
            location = found[0].decode("latin-1") if found else None
        return Outcome(status, excerpt, "" if status < 400 else f"HTTP {status}", status >= 500), (
            location
        )
