"""A real syslog receiver on loopback for the forwarding tests: TCP (TCP_NODELAY), RFC 6587
octet-counted frames, each parsed as an RFC 5424 message. Can be stopped and started again
on the same port to play a receiver that goes down and comes back."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
import time
from dataclasses import dataclass, field

HEADER = re.compile(
    r"^<(?P<pri>\d{1,3})>(?P<version>1) (?P<timestamp>\S+) (?P<hostname>\S+) "
    r"(?P<app>\S+) (?P<procid>\S+) (?P<msgid>\S+) "
)


@dataclass
class Message:
    raw: bytes
    pri: int
    version: int
    timestamp: str
    hostname: str
    app: str
    procid: str
    msgid: str
    sd_id: str
    params: dict[str, str]
    text: str

    @property
    def facility(self) -> int:
        return self.pri // 8

    @property
    def severity(self) -> int:
        return self.pri % 8


def _parse_sd(rest: str) -> tuple[str, dict[str, str], str]:
    """One SD-ELEMENT (or "-") at the start of `rest`; returns (id, params, what follows)."""
    if rest.startswith("-"):
        return "-", {}, rest[1:]
    assert rest.startswith("["), rest[:40]
    i = 1
    while rest[i] not in " ]":
        i += 1
    sd_id, params = rest[1:i], {}
    while rest[i] == " ":
        i += 1
        eq = rest.index("=", i)
        name = rest[i:eq]
        assert rest[eq + 1] == '"', rest[eq:]
        j, value = eq + 2, []
        while rest[j] != '"':
            if rest[j] == "\\" and rest[j + 1] in '"\\]':
                value.append(rest[j + 1])
                j += 2
            else:
                value.append(rest[j])
                j += 1
        params[name] = "".join(value)
        i = j + 1
    assert rest[i] == "]", rest[i:]
    return sd_id, params, rest[i + 1 :]


def parse_message(raw: bytes) -> Message:
    text = raw.decode("utf-8")
    header = HEADER.match(text)
    assert header, f"not RFC 5424: {text[:120]!r}"
    sd_id, params, rest = _parse_sd(text[header.end() :])
    assert rest == "" or rest.startswith(" "), rest[:40]
    return Message(
        raw=raw,
        pri=int(header["pri"]),
        version=int(header["version"]),
        timestamp=header["timestamp"],
        hostname=header["hostname"],
        app=header["app"],
        procid=header["procid"],
        msgid=header["msgid"],
        sd_id=sd_id,
        params=params,
        text=rest[1:],
    )


def split_frames(buffer: bytearray) -> list[bytes]:
    """Takes the complete `<len> <msg>` frames off the front of `buffer`."""
    frames = []
    while True:
        space = buffer.find(b" ")
        if space < 0:
            return frames
        length_text = bytes(buffer[:space])
        assert length_text.isdigit() and not length_text.startswith(b"0"), buffer[:20]
        length = int(length_text)
        if len(buffer) < space + 1 + length:
            return frames
        frames.append(bytes(buffer[space + 1 : space + 1 + length]))
        del buffer[: space + 1 + length]


@dataclass
class SyslogReceiver:
    port: int = 0
    messages: list[Message] = field(default_factory=list)
    connections: int = 0
    _server: socket.socket | None = None
    _threads: list[threading.Thread] = field(default_factory=list)
    _clients: list[socket.socket] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def endpoint(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> SyslogReceiver:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        server.bind(("127.0.0.1", self.port))
        server.listen(16)
        self.port = server.getsockname()[1]
        self._server = server
        thread = threading.Thread(target=self._accept, args=(server,), daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def _accept(self, server: socket.socket) -> None:
        while True:
            try:
                client, _ = server.accept()
            except OSError:
                return
            client.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._lock:
                self.connections += 1
                self._clients.append(client)
            thread = threading.Thread(target=self._read, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _read(self, client: socket.socket) -> None:
        buffer = bytearray()
        while True:
            try:
                data = client.recv(65536)
            except OSError:
                return
            if not data:
                return
            buffer.extend(data)
            parsed = [parse_message(frame) for frame in split_frames(buffer)]
            with self._lock:
                self.messages.extend(parsed)

    def stop(self) -> None:
        """Close the listener and every connection (as a receiver that went down)."""
        if self._server is not None:
            # shutdown() first: close() alone leaves a thread blocked in accept() holding
            # the socket, which keeps listening.
            with contextlib.suppress(OSError):
                self._server.shutdown(socket.SHUT_RDWR)
            self._server.close()
            self._server = None
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):
                    client.shutdown(socket.SHUT_RDWR)
                client.close()
            self._clients.clear()

    def wait_for(self, count: int, timeout: float = 5.0) -> list[Message]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.01)
        with self._lock:
            raise AssertionError(f"expected {count} messages, got {len(self.messages)}")
