"""The web server's access lines as JSON on stdout (supervisord writes them to
core-access.log): gunicorn calls JsonAccessLogger, granian serves AccessLogged.

gunicorn's own Logger.access builds a dict of every request header, response header and
WSGI environ variable for each request and then goes through logging's record machinery
(caller lookup included): about 0.3 ms of CPU a request on this machine class, more than
the answer to a blob HEAD. This logger writes the same one-line document directly.

Lines are written in batches, at most FLUSH_SECONDS after the request (as nginx's
`access_log ... buffer=64k flush=2s`): a write per line woke supervisord once per
request, which cost it about 0.7 ms of CPU per pushed tiny image, measured. A worker
flushes what it holds when it exits (gunicorn_conf.worker_exit); a worker that is killed
loses at most FLUSH_SECONDS of lines.
"""

from __future__ import annotations

import datetime as dt
import os
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping
from typing import Any

from gunicorn.glogging import Logger

from harbor_py.ops.jsonlog import access_line

REQUEST_ID_HEADER = "x-request-id"
FLUSH_SECONDS = 1.0
FLUSH_BYTES = 32 * 1024


class _LineBuffer:
    """This process's pending access lines and the thread that writes them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._lines: list[str] = []
        self._size = 0
        self._flusher_pid = 0  # threads do not survive a fork: one flusher per worker

    def add(self, line: str) -> None:
        with self._lock:
            if self._flusher_pid != os.getpid():
                self._flusher_pid = os.getpid()
                threading.Thread(target=self._flush_forever, daemon=True).start()
            self._lines.append(line)
            self._size += len(line) + 1
            if self._size >= FLUSH_BYTES:
                self._write()

    def flush(self) -> None:
        with self._lock:
            self._write()

    def _flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_SECONDS)
            self.flush()

    def _write(self) -> None:
        if not self._lines:
            return
        text = "\n".join(self._lines) + "\n"
        self._lines, self._size = [], 0
        try:
            sys.stdout.write(text)
            sys.stdout.flush()
        except (OSError, ValueError):  # stdout gone (supervisord stopping): nothing to log to
            pass


_buffer = _LineBuffer()


def flush() -> None:
    """Write the pending access lines now."""
    _buffer.flush()


def _status(status: str | int) -> int | str:
    code = status.split(None, 1)[0] if isinstance(status, str) else str(status)
    return int(code) if code.isdigit() else code


def _request_id(headers: Iterable[tuple[str, str]]) -> str | None:
    return next((v for k, v in headers if k.lower() == REQUEST_ID_HEADER), None)


class JsonAccessLogger(Logger):
    def access(
        self, resp: Any, req: Any, environ: MutableMapping[str, Any], request_time: dt.timedelta
    ) -> None:
        if not self.access_log_enabled:
            return
        _add(
            environ,
            resp.status,
            resp.headers,
            bytes_sent=getattr(resp, "sent", None),
            duration_ms=request_time.seconds * 1000 + request_time.microseconds // 1000,
            logger="gunicorn.access",
        )


def _add(
    environ: MutableMapping[str, Any],
    status: str | int,
    headers: Iterable[tuple[str, str]],
    *,
    bytes_sent: int | None,
    duration_ms: int,
    logger: str,
    cpu_ms: float | None = None,
) -> None:
    _buffer.add(
        access_line(
            remote=environ.get("REMOTE_ADDR"),
            method=environ.get("REQUEST_METHOD"),
            path=environ.get("PATH_INFO"),
            query=environ.get("QUERY_STRING"),
            status=_status(status),
            bytes_sent=bytes_sent,
            duration_ms=duration_ms,
            request_id=_request_id(headers),
            logger=logger,
            cpu_ms=cpu_ms,
        )
    )


StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class AccessLogged:
    """A WSGI application that writes its own access lines, for granian: granian's access
    log formats a %-string through logging's record machinery and cannot carry the
    response's X-Request-Id.

    A response that is not streamed is handed over as a one-item list, which granian sends
    in one call from Rust; any other iterable costs a call back into Python per item and
    one for close(). Its close() (Django's request_finished: connection upkeep) runs
    before granian writes the bytes, as it would have after; but for a response whose
    close() does work the client must not wait on (`close_after_sending`, e.g. the proxy
    cache's job log): that one is handed over as an iterable, which granian closes once
    it sent the bytes, or once the client went away.

    Each line carries `cpu_ms`, the CPU time of the thread that served the request while
    it was in the application (signals, middleware, view, close), from one clock read at
    each end: the web server's own parsing and writing are not in it. Summed over a bench
    by request kind, it says where the web server's CPU goes (docs/performance-gate.md).
    A streamed body is sent after the call returns, from granian's threads: its line
    counts the call only."""

    def __init__(self, app: WSGIApp) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started, cpu = time.perf_counter(), time.thread_time()
        answer: list[Any] = ["500", []]

        def start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
            answer[:] = (status, headers)
            return start_response(status, headers, exc_info)

        body = self.app(environ, start)
        if getattr(body, "streaming", True) or getattr(body, "close_after_sending", False):
            return _LoggedStream(body, environ, answer, started, time.thread_time() - cpu)
        try:
            content = b"".join(body)
        finally:
            body.close()  # type: ignore[attr-defined]  # a Django response: not streaming
        _log(environ, answer, len(content), started, time.thread_time() - cpu)
        return [content]


class _LoggedStream:
    """A streamed body, counted as it goes; its access line is written when it closes."""

    def __init__(
        self,
        body: Iterable[bytes],
        environ: dict[str, Any],
        answer: list[Any],
        started: float,
        cpu: float,
    ) -> None:
        self.body, self.environ, self.answer, self.started = body, environ, answer, started
        self.cpu = cpu
        self.chunks: Iterator[bytes] = iter(body)
        self.sent = 0

    def __iter__(self) -> _LoggedStream:
        return self

    def __next__(self) -> bytes:
        chunk = next(self.chunks)
        self.sent += len(chunk)
        return chunk

    def close(self) -> None:
        try:
            if close := getattr(self.body, "close", None):
                close()
        finally:
            _log(self.environ, self.answer, self.sent, self.started, self.cpu)


def _log(environ: dict[str, Any], answer: list[Any], sent: int, started: float, cpu: float) -> None:
    status, headers = answer
    duration_ms = int((time.perf_counter() - started) * 1000)
    _add(
        environ,
        status,
        headers,
        bytes_sent=sent,
        duration_ms=duration_ms,
        logger="granian.access",
        cpu_ms=round(cpu * 1000, 3),
    )
