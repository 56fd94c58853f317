"""Webhook receivers for the tests and the bench: real HTTP servers on loopback, each in a
thread, that record what they receive and answer as told.

- `ok`: 200 at once;
- `slow`: 200 after `delay` seconds;
- `flaky`: `code` (500) to the first `failures` requests, then 200;
- `redirect`: 307 to `location`;
- `close`: closes the connection without answering;
- `hold`: keeps each request open until `release()` (or `delay` seconds), then 200.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Receiver:
    mode: str = "ok"
    delay: float = 0.0
    failures: int = 0
    code: int = 500
    location: str = ""
    received: list[Received] = field(default_factory=list)
    attempts: int = 0  # requests seen, answered or not
    host: str = "127.0.0.1"  # any of 127.0.0.0/8 on Linux
    port: int = 0

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        self._released = threading.Event()
        self.arrived = threading.Event()  # set on each request's arrival
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.attempts += 1
                    attempt = receiver.attempts
                receiver.arrived.set()
                if receiver.mode == "close":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if receiver.mode == "slow":
                    time.sleep(receiver.delay)
                if receiver.mode == "hold":
                    receiver._released.wait(receiver.delay or 120)
                status = (
                    receiver.code
                    if receiver.mode == "flaky" and attempt <= receiver.failures
                    else 200
                )
                if receiver.mode == "redirect":
                    self.send_response(307)
                    self.send_header("Location", receiver.location)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                if status == 200:
                    with receiver._lock:
                        receiver.received.append(
                            Received(self.path, dict(self.headers), body, time.time())
                        )
                answer = b'{"ok": true}' if status == 200 else b"failing on purpose"
                self.send_response(status)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer((self.host, self.port), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.server.server_address[1]}/hook"

    def release(self) -> None:
        self._released.set()

    def close(self) -> None:
        self._released.set()
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 60.0) -> list[Received]:
        """Poll until `count` deliveries were answered 200 (an AssertionError after
        `timeout`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        raise AssertionError(
            f"{self.mode} receiver: {len(self.received)} of {count} deliveries after "
            f"{timeout:.0f} s ({self.attempts} requests)"
        )

    def __enter__(self) -> Receiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class Receivers:
    """Receivers made on demand (`make(**kwargs)`), all closed by `close()`: the body of
    the tests' `receivers` fixtures."""

    def __init__(self) -> None:
        self.made: list[Receiver] = []

    def __call__(self, **kwargs: Any) -> Receiver:
        self.made.append(Receiver(**kwargs))
        return self.made[-1]

    def close(self) -> None:
        for receiver in self.made:
            receiver.close()
