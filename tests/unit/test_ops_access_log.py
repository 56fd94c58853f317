"""Structured logs without a server: gunicorn's access lines as JSON fields, written in
batches, and the request id carried into the Celery tasks a request enqueues."""

from __future__ import annotations

import datetime as dt
import json
import time

import pytest
from celery.signals import before_task_publish, task_postrun, task_prerun
from gunicorn import config as gunicorn_config

from harbor_py.ops import access_log, jsonlog
from harbor_py.ops.access_log import JsonAccessLogger


def _access_logger() -> JsonAccessLogger:
    cfg = gunicorn_config.Config()
    cfg.set("accesslog", "-")
    return JsonAccessLogger(cfg)


def test_gunicorn_access_lines_become_fields(capsys: pytest.CaptureFixture[str]) -> None:
    class Response:
        status = "200 OK"
        headers = [("Content-Type", "application/json"), ("X-Request-Id", "abc")]
        sent = 17

    environ = {
        "REMOTE_ADDR": "10.0.0.1",
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/api/v2.0/projects",
        "QUERY_STRING": "page=2",
    }
    logger = _access_logger()
    logger.access(Response(), None, environ, dt.timedelta(seconds=1, microseconds=12_500))
    access_log.flush()
    line = json.loads(capsys.readouterr().out)
    assert line == {
        "time": line["time"],
        "level": "info",
        "logger": "gunicorn.access",
        "remote": "10.0.0.1",
        "method": "GET",
        "path": "/api/v2.0/projects",
        "query": "page=2",
        "status": 200,
        "bytes": 17,
        "duration_ms": 1012,
        "request_id": "abc",
        "message": "GET /api/v2.0/projects 200",
    }


def _access(logger: JsonAccessLogger, path: str) -> None:
    class Response:
        status = "204 No Content"
        headers: list[tuple[str, str]] = []
        sent = 0

    environ = {"REMOTE_ADDR": "10.0.0.1", "REQUEST_METHOD": "HEAD", "PATH_INFO": path}
    logger.access(Response(), None, environ, dt.timedelta(microseconds=500))


def test_access_lines_are_written_in_batches_and_within_the_flush_interval(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = _access_logger()
    access_log.flush()
    capsys.readouterr()
    monkeypatch.setattr(access_log, "FLUSH_SECONDS", 0.05)
    monkeypatch.setattr(access_log, "_buffer", access_log._LineBuffer())
    _access(logger, "/v2/a/blobs/1")
    _access(logger, "/v2/a/blobs/2")
    assert capsys.readouterr().out == ""  # held back, not a write per request
    deadline = time.monotonic() + 5
    out = ""
    while time.monotonic() < deadline and out.count("\n") < 2:
        time.sleep(0.02)
        out += capsys.readouterr().out  # the flusher thread, with no further request
    assert [json.loads(line)["path"] for line in out.splitlines()] == [
        "/v2/a/blobs/1",
        "/v2/a/blobs/2",
    ]


def test_a_full_batch_is_written_at_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    logger = _access_logger()
    monkeypatch.setattr(access_log, "FLUSH_SECONDS", 3600)
    monkeypatch.setattr(access_log, "FLUSH_BYTES", 1000)
    monkeypatch.setattr(access_log, "_buffer", access_log._LineBuffer())
    sent = 0
    lines: list[str] = []
    while not lines and sent < 50:  # about 200 bytes a line: a batch every few lines
        _access(logger, f"/v2/a/blobs/{sent}")
        sent += 1
        lines = capsys.readouterr().out.splitlines()
    assert 1 < len(lines) == sent < 50
    assert [json.loads(line)["path"] for line in lines] == [f"/v2/a/blobs/{k}" for k in range(sent)]
    _access(logger, "/v2/a/blobs/last")
    assert capsys.readouterr().out == ""
    access_log.flush()
    assert json.loads(capsys.readouterr().out)["path"] == "/v2/a/blobs/last"


def test_tasks_carry_the_enqueuing_requests_id():
    headers: dict[str, str] = {}
    token = jsonlog.request_id.set("req-7")
    try:
        before_task_publish.send(sender="t", headers=headers, body=None)
    finally:
        jsonlog.request_id.reset(token)
    assert headers == {jsonlog.HEADER: "req-7"}

    class Task:
        class request:
            harbor_request_id = "req-7"

    task_prerun.send(sender=Task, task_id="task-1", task=Task)
    assert jsonlog.request_id.get() == "req-7"
    task_postrun.send(sender=Task, task_id="task-1", task=Task)
    Task.request.harbor_request_id = None
    task_prerun.send(sender=Task, task_id="task-2", task=Task)
    assert jsonlog.request_id.get() == "task-2"  # no request: the task id
    task_postrun.send(sender=Task, task_id="task-2", task=Task)
    assert jsonlog.request_id.get() == ""
