"""Structured logs: JSON lines carrying the request id (HTTP requests and the Celery tasks
they enqueue), and the forwarder that follows rotating log files to a real syslog receiver."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from celery.signals import before_task_publish, task_postrun, task_prerun
from django.test import Client
from gunicorn import config as gunicorn_config

from harbor_py.core import configuration
from harbor_py.ops import access_log, jsonlog, logforward
from harbor_py.ops.access_log import JsonAccessLogger
from tests.unit.syslog_receiver import SyslogReceiver, parse_message


@pytest.fixture
def json_lines():
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(jsonlog.JsonFormatter())
    handler.addFilter(jsonlog.RequestIdFilter())
    root = logging.getLogger()
    root.addHandler(handler)
    yield lambda: [json.loads(line) for line in stream.getvalue().splitlines()]
    root.removeHandler(handler)


@pytest.mark.django_db
def test_a_requests_log_lines_carry_its_id(json_lines):
    configuration.store({"read_only": True})  # its refusals log a warning
    response = Client().post("/api/v2.0/projects", HTTP_X_REQUEST_ID="ops-req-42")
    assert response.status_code == 403 and response["X-Request-Id"] == "ops-req-42"
    lines = [line for line in json_lines() if line["logger"] == "harbor_py.ops.readonly"]
    assert len(lines) == 1
    line = lines[0]
    assert line["request_id"] == "ops-req-42" and line["level"] == "warning"
    assert "refused in read only mode: POST /api/v2.0/projects" in line["message"]
    assert line["time"].endswith("+00:00")
    logging.getLogger("after").warning("outside any request")
    assert "request_id" not in json_lines()[-1]


def test_exceptions_are_one_json_line(json_lines):
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("x").exception("failed")
    line = json_lines()[-1]
    assert line["message"] == "failed" and "ValueError: boom" in line["exception"]


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


def _append(path: Path, *lines: str) -> None:
    with path.open("a") as handle:
        handle.write("".join(f"{line}\n" for line in lines))


def test_tail_follows_rotation_and_new_files(tmp_path: Path):
    core = tmp_path / "core.log"
    _append(core, "before the forwarder started")
    tail = logforward.LogTail(tmp_path)
    assert tail.poll() == []  # starts at the end of existing files
    _append(core, '{"level": "info", "message": "one"}', "two")
    with core.open("a") as handle:
        handle.write("half")
    assert [line for _, line in tail.poll()] == ['{"level": "info", "message": "one"}', "two"]
    _append(core, " a line")
    core.rename(tmp_path / "core.log.1")  # supervisord's rotation
    _append(tmp_path / "core.log", "three")
    _append(tmp_path / "nginx-access.log", "from nginx")  # appears later: read from 0
    _append(tmp_path / "logforwarder.log", "own log, never forwarded")
    assert tail.poll() == [
        ("core", "half a line"),
        ("core", "three"),
        ("nginx-access", "from nginx"),
    ]


def test_parse_target():
    assert logforward.parse_target("udp://10.0.0.1:514") == logforward.Target(
        "udp", "10.0.0.1", 514
    )
    assert logforward.parse_target("logs.example:6514").protocol == "tcp"
    with pytest.raises(ValueError):
        logforward.parse_target("http://x:1")


@contextlib.contextmanager
def forwarding(directory: Path, target: logforward.Target, seconds: float) -> Iterator[None]:
    """The forwarder running in a thread for `seconds`, started on the files as they are."""
    thread = threading.Thread(
        target=logforward.run, args=(directory, target), kwargs={"stop_after": seconds}, daemon=True
    )
    thread.start()
    try:
        time.sleep(0.4)  # its first poll: it starts at the end of the existing files
        yield
    finally:
        thread.join(timeout=seconds + 5)


def test_forwarder_delivers_over_tcp_and_survives_a_receiver_restart(tmp_path: Path):
    receiver = SyslogReceiver().start()
    _append(tmp_path / "core.log", "")
    target = logforward.Target("tcp", "127.0.0.1", receiver.port)
    with contextlib.ExitStack() as stack:
        stack.callback(receiver.stop)
        stack.enter_context(forwarding(tmp_path, target, 4))
        _append(tmp_path / "core.log", '{"level": "error", "message": "bad"}')
        _append(tmp_path / "nginx-access.log", '{"component": "nginx", "status": 200}')
        messages = receiver.wait_for(2)
        by_app = {m.app: m for m in messages}
        assert by_app["core"].severity == 3 and by_app["core"].facility == 16
        assert by_app["core"].text == '{"level": "error", "message": "bad"}'
        assert by_app["nginx-access"].severity == 6
        receiver.stop()
        _append(tmp_path / "core.log", "while the receiver was down")
        time.sleep(0.6)
        receiver.start()  # same port
        messages = receiver.wait_for(3, timeout=5)
        assert messages[-1].text == "while the receiver was down"


def test_forwarder_over_udp(tmp_path: Path):
    server = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    server.bind(("127.0.0.1", 0))
    server.settimeout(5)
    target = logforward.Target("udp", "127.0.0.1", server.getsockname()[1])
    with contextlib.closing(server), forwarding(tmp_path, target, 1.5):
        _append(tmp_path / "worker.log", "task done")
        message = parse_message(server.recv(65536))
        assert (message.app, message.text, message.version) == ("worker", "task done", 1)
