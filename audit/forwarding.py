"""Forwarding audit entries to a syslog server over TCP (audit_log_forward_endpoint).

Wire format: RFC 5424 messages in RFC 6587 octet-counting framing ("<len> <msg>"), one per
entry, several per TCP write, on a persistent connection per worker process:

    <110>1 2026-01-02T03:04:05.123456Z harbor.example.com harbor-py - create_project
    [audit@32473 id="42" user="admin" operation="create" resource_type="project"
    resource="demo" project="demo" result="success" client="10.0.0.7"] admin create project demo

PRI is facility 13 (log audit) with severity informational, warning for failed operations
(e.g. wrong passwords). MSGID is the event type. The SD-ID uses 32473, the private
enterprise number that RFC 5612 reserves for documentation. The entry's `id` is its row id
(empty when skip_audit_log_database keeps it out of the database).

Delivery: record() writes each entry to the outbox (audit_outbox) in the transaction of the
change; `drain` (the Celery task audit.tasks.forward_audit_log, started after each commit
and every 10 s by beat as a safety net) sends pending entries in id order, in batches,
and deletes a batch only after the write to the socket succeeded. When the receiver is
down the entries stay pending and go out in order once it is back. At-least-once: a crash
between sending and deleting sends that batch again. Syslog over TCP has no
acknowledgements, so entries that the kernel accepted just before the receiver died can be
lost by the receiver; a connection that the receiver closed is noticed before the next
batch (and re-opened), which covers receiver restarts between batches.
"""

from __future__ import annotations

import contextlib
import logging
import select
import socket
import threading
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache import cache

from audit.models import AuditOutbox
from harbor_py.core import configuration, redis_conn

logger = logging.getLogger(__name__)

BATCH = 500
MAX_BATCHES = 200  # per run; the next run (kick or beat) continues
CONNECT_TIMEOUT = 3.0
SEND_TIMEOUT = 10.0
RETRY_AFTER_SECONDS = 10  # after a failure, commits do not start runs (beat still does)
LOCK_SECONDS = 600
FACILITY_LOG_AUDIT = 13
SEVERITY_INFO, SEVERITY_WARNING = 6, 4
APP_NAME = "harbor-py"
SD_ID = "audit@32473"
KICK_KEY = "audit:forward:kick"


class EndpointInvalid(ValueError):
    pass


def parse_endpoint(raw: str) -> tuple[str, int]:
    """host:port, [v6]:port, or tcp://host:port."""
    text = raw.strip()
    if "://" in text:
        parts = urlsplit(text)
        if parts.scheme != "tcp":
            raise EndpointInvalid("only tcp:// syslog endpoints are supported")
        text = parts.netloc
    parsed = urlsplit(f"//{text}")
    try:
        port = parsed.port
    except ValueError:
        port = None
    if not parsed.hostname or port is None or not 0 < port < 65536 or parsed.path:
        raise EndpointInvalid(f"expected host:port, got {raw!r}")
    return parsed.hostname, port


def endpoint_problem(value: str) -> str | None:
    """For harbor_py.core.configuration: why `value` is not a usable endpoint, or None."""
    if not value.strip():
        return None
    try:
        parse_endpoint(value)
    except EndpointInvalid as exc:
        return f"is invalid: {exc}"
    return None


# -- RFC 5424 ------------------------------------------------------------------------------


def _ascii_token(value: str, limit: int) -> str:
    """HOSTNAME, APP-NAME, MSGID: printable US-ASCII without spaces, or the NILVALUE."""
    cleaned = "".join(c for c in value if 33 <= ord(c) <= 126)[:limit]
    return cleaned or "-"


def _sd_value(value: object) -> str:
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _hostname() -> str:
    host = urlsplit(settings.HARBOR.get("EXTERNAL_URL", "")).hostname or socket.gethostname()
    return _ascii_token(host, 255)


def format_message(entry: dict[str, Any], *, hostname: str | None = None) -> bytes:
    severity = SEVERITY_INFO if entry.get("success", True) else SEVERITY_WARNING
    timestamp = str(entry["op_time"]).replace("+00:00", "Z")
    params = {
        "id": entry.get("id") or "",
        "user": entry.get("username"),
        "operation": entry.get("operation"),
        "resource_type": entry.get("resource_type"),
        "resource": entry.get("resource"),
        "project": entry.get("project_name") or "",
        "result": "success" if entry.get("success", True) else "failure",
        "client": entry.get("client_address") or "",
        "description": entry.get("description") or "",
    }
    sd = "[" + SD_ID + "".join(f' {k}="{_sd_value(v)}"' for k, v in params.items()) + "]"
    text = (
        f"{entry.get('username')} {entry.get('operation')} {entry.get('resource_type')} "
        f"{entry.get('resource')}" + ("" if entry.get("success", True) else " (failed)")
    )
    header = (
        f"<{FACILITY_LOG_AUDIT * 8 + severity}>1 {timestamp} "
        f"{hostname or _hostname()} {APP_NAME} - "
        f"{_ascii_token(str(entry.get('event_type') or ''), 32)}"
    )
    # MSG without a BOM is MSG-ANY (RFC 5424 §6.4): receivers take the octets as they are.
    return f"{header} {sd} {text}".encode()


def frame(message: bytes) -> bytes:
    """RFC 6587 §3.4.1 octet counting."""
    return str(len(message)).encode() + b" " + message


# -- the connection ------------------------------------------------------------------------


@dataclass
class _Connection:
    endpoint: str
    sock: socket.socket

    def alive(self) -> bool:
        """A syslog receiver never writes: a readable socket means it closed or failed."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
            if not readable:
                return True
            return self.sock.recv(1, socket.MSG_PEEK) != b""
        except OSError:
            return False


class Sender:
    """One persistent TCP connection per process, re-opened when it broke or when the
    endpoint changed."""

    def __init__(self) -> None:
        self._conn: _Connection | None = None
        self._lock = threading.Lock()

    def _connect(self, endpoint: str) -> _Connection:
        host, port = parse_endpoint(endpoint)
        sock = socket.create_connection((host, port), timeout=CONNECT_TIMEOUT)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(SEND_TIMEOUT)
        return _Connection(endpoint, sock)

    def close(self) -> None:
        with self._lock:
            self._close()

    def _close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError):
                self._conn.sock.close()
            self._conn = None

    def send(self, endpoint: str, data: bytes) -> None:
        """Raises OSError (after closing the connection) when the data could not be sent."""
        with self._lock:
            conn = self._conn
            if conn is not None and (conn.endpoint != endpoint or not conn.alive()):
                self._close()
                conn = None
            if conn is None:
                conn = self._conn = self._connect(endpoint)
            try:
                conn.sock.sendall(data)
            except OSError:
                self._close()
                raise


sender = Sender()


# -- draining the outbox -------------------------------------------------------------------


def _redis() -> redis.Redis:
    return redis_conn.client(timeout=5)


def _lock_name() -> str:
    prefix = settings.CACHES["default"].get("KEY_PREFIX", "harbor")
    return f"{prefix}:audit:forward:lock"


def drain(*, batch_size: int = BATCH, max_batches: int = MAX_BATCHES) -> int:
    """Send pending outbox entries in order; returns how many were sent. One run at a time
    (a Redis lock keeps the order); a run that finds the lock taken leaves the work to it."""
    cache.delete(KICK_KEY)  # commits from now on start a new run
    endpoint = str(configuration.get("audit_log_forward_endpoint") or "").strip()
    if not endpoint:
        return 0  # forwarding is off: pending entries wait until an endpoint is set
    lock = _redis().lock(_lock_name(), timeout=LOCK_SECONDS, blocking=False)
    if not lock.acquire():
        return 0
    sent = 0
    hostname = _hostname()
    try:
        for _ in range(max_batches):
            rows = list(
                AuditOutbox.objects.order_by("id").values_list("id", "payload")[:batch_size]
            )
            if not rows:
                break
            data = b"".join(frame(format_message(p, hostname=hostname)) for _, p in rows)
            try:
                sender.send(endpoint, data)
            except OSError as exc:
                logger.warning(
                    "audit forwarding to %s failed (%s); %s entries stay pending",
                    endpoint,
                    exc,
                    AuditOutbox.objects.count(),
                )
                cache.set(KICK_KEY, 1, timeout=RETRY_AFTER_SECONDS)
                break
            AuditOutbox.objects.filter(id__in=[pk for pk, _ in rows]).delete()
            sent += len(rows)
    finally:
        with contextlib.suppress(redis.RedisError):
            lock.release()
    return sent
