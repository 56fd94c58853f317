"""Structured logs: JSON lines carrying the request id of an HTTP request, and the forwarder
that follows rotating log files to a real syslog receiver (access lines: tests/unit)."""

from __future__ import annotations

import contextlib
import io
import json
import logging
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from django.test import Client

from harbor_py.core import configuration
from harbor_py.ops import jsonlog, logforward
from tests.syslog_receiver import SyslogReceiver, parse_message


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
