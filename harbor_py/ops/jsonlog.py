"""Structured logs: one JSON object per line, with the request id of the HTTP request (or
of the request that enqueued a Celery task) on every line logged while serving it.

    {"time": "2026-01-02T03:04:05.123Z", "level": "warning", "component": "core",
     "logger": "harbor_py.ops.readonly", "message": "refused ...", "request_id": "abc"}

The id lives in a contextvar set by harbor_py.middleware.RequestIdMiddleware; Celery tasks
carry it in a message header (before_task_publish) and restore it while they run
(task_prerun), falling back to the task id. The web server's access lines (access_line,
written by harbor_py.ops.access_log) carry method, path, status, bytes, duration_ms and
the X-Request-Id the response carried.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from contextvars import ContextVar
from typing import Any

from harbor_py.core import env

request_id: ContextVar[str] = ContextVar("request_id", default="")
HEADER = "harbor_request_id"
# Which program logs (set per supervisord program): core, worker, beat, ...
COMPONENT = env.get("HARBOR_COMPONENT", "")


class RequestIdFilter(logging.Filter):
    """Puts the current request id on the record (for text formats: %(request_id)s)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not getattr(record, "request_id", None):
            record.request_id = request_id.get() or "-"
        return True


def _line(logger: str, level: str, created: float, fields: dict[str, Any]) -> str:
    """One JSON log line: time, level, component and logger, then `fields`; fields that
    are None are left out."""
    doc: dict[str, Any] = {
        "time": dt.datetime.fromtimestamp(created, tz=dt.UTC).isoformat(timespec="milliseconds"),
        "level": level,
        "component": COMPONENT or None,
        "logger": logger,
        **fields,
    }
    return json.dumps({k: v for k, v in doc.items() if v is not None}, default=str)


def access_line(
    *,
    remote: str | None,
    method: str | None,
    path: str | None,
    query: str | None,
    status: int | str,
    bytes_sent: int | None,
    duration_ms: int,
    request_id: str | None,
    logger: str = "gunicorn.access",
    cpu_ms: float | None = None,
) -> str:
    """One access line (harbor_py.ops.access_log writes them for gunicorn and granian)."""
    fields = {
        "remote": remote,
        "method": method,
        "path": path,
        "query": query or None,
        "status": status,
        "bytes": bytes_sent,
        "duration_ms": duration_ms,
        "cpu_ms": cpu_ms,
        "request_id": request_id or None,
        "message": f"{method} {path} {status}",
    }
    return _line(logger, "info", time.time(), fields)


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        rid = getattr(record, "request_id", None) or request_id.get()
        fields = {
            "message": record.getMessage(),
            "request_id": rid if rid and rid != "-" else None,
            "exception": self.formatException(record.exc_info) if record.exc_info else None,
        }
        return _line(record.name, record.levelname.lower(), record.created, fields)


def logging_config(level: str, fmt: str) -> dict[str, Any]:
    """Django's LOGGING: one stderr handler, JSON (HARBOR_LOG_FORMAT=json, the default) or
    text with the request id."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": "harbor_py.ops.jsonlog.RequestIdFilter"}},
        "formatters": {
            "json": {"()": "harbor_py.ops.jsonlog.JsonFormatter"},
            "text": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "filters": ["request_id"],
                "formatter": "text" if fmt == "text" else "json",
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            # One line per upstream call and per 4xx would double the log volume of the gate.
            "httpx": {"level": "WARNING"},
            "httpcore": {"level": "WARNING"},
            "django.request": {"level": "ERROR"},
        },
    }


def connect_celery_signals() -> None:
    """Carry the request id from the enqueuing request into the task's log lines."""
    from celery.signals import before_task_publish, task_postrun, task_prerun

    @before_task_publish.connect(weak=False)
    def _publish(headers: dict[str, Any] | None = None, **_: Any) -> None:
        rid = request_id.get()
        if rid and headers is not None:
            headers.setdefault(HEADER, rid)

    @task_prerun.connect(weak=False)
    def _prerun(task_id: str = "", task: Any = None, **_: Any) -> None:
        given = getattr(getattr(task, "request", None), HEADER, None)
        request_id.set(given or task_id)

    @task_postrun.connect(weak=False)
    def _postrun(**_: Any) -> None:
        request_id.set("")
