"""The log collector's forwarding half: follow every component's log in $HARBOR_DATA_DIR/logs
(as `tail -F` does, across supervisord's rotations) and send each line to a syslog endpoint
(HARBOR_LOG_FORWARD_ENDPOINT), as Harbor's log collector does.

Wire format: RFC 5424, APP-NAME = the log file's name without `.log` (nginx-access, core,
core-access, registry, worker, beat, redis, ...), facility local0, severity from the
line's JSON `level` when it has one (else informational). TCP (the default, and
`tcp://host:port`) uses RFC 6587 octet counting, one persistent connection, re-opened after
a failure; `udp://host:port` sends one datagram per line.

Delivery: lines are read from where the files end when the forwarder starts (what was
written before stays in the local files) and kept in a bounded queue while the endpoint is
unreachable; past MAX_PENDING lines the oldest are dropped and counted in the forwarder's
own log.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import socket
import time
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from audit import forwarding

logger = logging.getLogger(__name__)

FACILITY_LOCAL0 = 16
SEVERITY = {"debug": 7, "info": 6, "warning": 5, "warn": 5, "error": 3, "critical": 2}
MAX_LINE = 8192
MAX_PENDING = 50_000
POLL_SECONDS = 0.2
RETRY_SECONDS = 1.0
OWN_LOG = "logforwarder.log"


@dataclass(frozen=True)
class Target:
    protocol: str  # tcp | udp
    host: str
    port: int


def parse_target(raw: str) -> Target:
    """tcp://host:port, udp://host:port or host:port (TCP)."""
    text = raw.strip()
    protocol = "tcp"
    if text.startswith(("udp://", "tcp://")):
        protocol, text = text[:3], text[6:]
    host, port = forwarding.parse_endpoint(text)
    return Target(protocol, host, port)


def _severity(line: str) -> int:
    if line.startswith("{"):
        with contextlib.suppress(ValueError, AttributeError):
            level = json.loads(line).get("level", "")
            return SEVERITY.get(str(level).lower(), 6)
    return 6


def format_line(app: str, line: str, *, hostname: str) -> bytes:
    timestamp = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
    pri = FACILITY_LOCAL0 * 8 + _severity(line)
    text = line[:MAX_LINE]
    return f"<{pri}>1 {timestamp} {hostname} {app[:48] or '-'} - - - {text}".encode()


@dataclass
class _Followed:
    handle: IO[bytes]
    inode: int
    partial: bytes = b""


@dataclass
class LogTail:
    """Follows every *.log file of a directory; yields (app, line) for complete new lines."""

    directory: Path
    exclude: frozenset[str] = frozenset({OWN_LOG})
    files: dict[Path, _Followed] = field(default_factory=dict)
    started: bool = False

    def _open(self, path: Path, at_end: bool) -> None:
        try:
            handle = path.open("rb")
        except OSError:
            return
        stat = os.fstat(handle.fileno())
        if at_end:
            handle.seek(stat.st_size)
        self.files[path] = _Followed(handle, stat.st_ino)

    def _read(self, path: Path, followed: _Followed) -> Iterator[tuple[str, str]]:
        data = followed.partial + followed.handle.read()
        *lines, followed.partial = data.split(b"\n")
        app = path.name.removesuffix(".log")
        for raw in lines:
            line = raw.decode("utf-8", errors="replace").rstrip("\r")
            if line:
                yield app, line

    def poll(self) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        present = {p for p in self.directory.glob("*.log") if p.name not in self.exclude}
        for path in sorted(present - set(self.files)):
            self._open(path, at_end=not self.started)  # files that appear later: from 0
        self.started = True
        for path, followed in list(self.files.items()):
            out.extend(self._read(path, followed))
            try:
                stat = os.stat(path)
            except FileNotFoundError:
                continue  # rotated away and not yet re-created: keep the old handle
            if stat.st_ino != followed.inode:  # rotated: drain the old file, then go on
                out.extend(self._read(path, followed))
                if followed.partial:
                    out.append((path.name.removesuffix(".log"), followed.partial.decode()))
                followed.handle.close()
                del self.files[path]
                self._open(path, at_end=False)
                if path in self.files:
                    out.extend(self._read(path, self.files[path]))
            elif stat.st_size < followed.handle.tell():  # truncated in place
                followed.handle.seek(0)
        return out


@dataclass
class Sender:
    """TCP through the audit forwarder's connection (it notices a receiver that closed
    before writing to it), UDP one datagram per line."""

    target: Target
    pending: deque[bytes] = field(default_factory=lambda: deque(maxlen=MAX_PENDING))
    dropped: int = 0
    retry_at: float = 0.0
    tcp: forwarding.Sender = field(default_factory=forwarding.Sender)
    udp: socket.socket | None = None

    def queue(self, message: bytes) -> None:
        if len(self.pending) == self.pending.maxlen:
            self.dropped += 1
        self.pending.append(message)

    def _send(self, batch: list[bytes]) -> None:
        host, port = self.target.host, self.target.port
        if self.target.protocol == "udp":
            if self.udp is None:
                family = socket.getaddrinfo(host, port, type=socket.SOCK_DGRAM)[0][0]
                self.udp = socket.socket(family, socket.SOCK_DGRAM)
            for message in batch:
                self.udp.sendto(message, (host, port))
        else:
            endpoint = f"[{host}]:{port}" if ":" in host else f"{host}:{port}"
            self.tcp.send(endpoint, b"".join(forwarding.frame(m) for m in batch))

    def flush(self) -> None:
        if not self.pending or time.monotonic() < self.retry_at:
            return
        while self.pending:
            batch = [self.pending.popleft() for _ in range(min(500, len(self.pending)))]
            try:
                self._send(batch)
            except OSError as exc:
                self.pending.extendleft(reversed(batch))
                logger.warning("log forwarding to %s failed: %s", self.target, exc)
                self.retry_at = time.monotonic() + RETRY_SECONDS
                break
        if self.dropped:
            logger.warning(
                "dropped %d log lines while %s was unreachable", self.dropped, self.target
            )
            self.dropped = 0


def run(directory: Path, target: Target, *, stop_after: float | None = None) -> None:
    tail = LogTail(directory)
    sender = Sender(target)
    hostname = socket.gethostname()
    deadline = None if stop_after is None else time.monotonic() + stop_after
    logger.info("forwarding the logs of %s to %s", directory, target)
    while deadline is None or time.monotonic() < deadline:
        for app, line in tail.poll():
            sender.queue(format_line(app, line, hostname=hostname))
        sender.flush()
        time.sleep(POLL_SECONDS)
