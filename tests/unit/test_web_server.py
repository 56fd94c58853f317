"""The `core` program under granian (harbor_py.processes.web_argv, #31): its command line,
the JSON access lines it writes through harbor_py.ops.access_log.AccessLogged, and the
unix socket a server that was killed leaves behind. The end-to-end tests run every request
of the platform through it."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import pytest
from django.core.management.base import CommandError

from harbor_py.ops import access_log
from harbor_py.ops.access_log import AccessLogged
from harbor_py.ops.granian_serve import remove_stale_socket
from harbor_py.processes import granian_bind, web_argv

BIN = Path("/venv/bin")


def test_core_runs_under_granian_by_default(monkeypatch):
    monkeypatch.delenv("HARBOR_WEB_SERVER", raising=False)
    monkeypatch.setenv("HARBOR_WEB_WORKERS", "3")
    argv = web_argv("unix:/run/h/web.sock", BIN)
    assert argv[:3] == ["/venv/bin/python", "-m", "harbor_py.ops.granian_serve"]
    assert argv[-2:] == ["--factory", "harbor_py.granian_app:worker_application"]
    options = " ".join(argv)
    assert "--interface wsgi" in options
    assert "--uds /run/h/web.sock --uds-permissions 0660" in options
    assert "--workers 3 --blocking-threads 8" in options
    assert "--respawn-failed-workers" in options


def test_gunicorn_stays_selectable(monkeypatch):
    monkeypatch.setenv("HARBOR_WEB_SERVER", "gunicorn")
    argv = web_argv("127.0.0.1:8000", BIN)
    assert argv[:2] == ["/venv/bin/gunicorn", "harbor_py.wsgi:application"]
    assert "--bind 127.0.0.1:8000" in " ".join(argv)


@pytest.mark.parametrize(
    ("bind", "options"),
    [
        ("0.0.0.0:8000", ["--host", "0.0.0.0", "--port", "8000"]),
        ("[::]:8000", ["--host", "::", "--port", "8000"]),
        (":8000", ["--host", "0.0.0.0", "--port", "8000"]),
    ],
)
def test_gunicorn_style_binds_become_granian_options(bind, options):
    assert granian_bind(bind) == options


def test_settings_granian_would_not_understand_are_refused(tmp_path, monkeypatch):
    from harbor_py.core.runtime import load_runtime
    from harbor_py.management.commands.platform import render_configs

    rt = load_runtime({"HARBOR_PORT": "18999", "HARBOR_DATA_DIR": str(tmp_path / "data")})
    rt.keys_dir.mkdir(parents=True)
    (rt.keys_dir / "registry_http_secret").write_text("secret")
    monkeypatch.setenv("HARBOR_WEB_SERVER", "uwsgi")
    with pytest.raises(CommandError, match="HARBOR_WEB_SERVER"):
        render_configs(rt, tmp_path / "config")
    monkeypatch.setenv("HARBOR_WEB_SERVER", "granian")
    monkeypatch.setenv("HARBOR_WEB_BIND", "localhost")
    with pytest.raises(CommandError, match="HARBOR_WEB_BIND"):
        render_configs(rt, tmp_path / "config")


class _Body:
    """A Django response as the WSGI server sees it."""

    def __init__(self, chunks: list[bytes], *, streaming: bool) -> None:
        self.chunks, self.streaming, self.closed = chunks, streaming, False

    def __iter__(self):
        return iter(self.chunks)

    def close(self) -> None:
        self.closed = True


def _serve(body: _Body, capsys: pytest.CaptureFixture[str]) -> tuple[list[bytes], dict, str]:
    def app(environ, start_response):
        start_response("201 Created", [("X-Request-Id", "rid-1"), ("Content-Type", "x/y")])
        return body

    started: list = []
    environ = {
        "REMOTE_ADDR": "10.0.0.2",
        "REQUEST_METHOD": "PUT",
        "PATH_INFO": "/v2/p/r/manifests/v1",
        "QUERY_STRING": "",
    }
    answer = AccessLogged(app)(environ, lambda *args: started.append(args))
    sent = list(answer)
    if hasattr(answer, "close"):
        answer.close()
    access_log.flush()
    lines = capsys.readouterr().out.splitlines()
    assert started[0][0] == "201 Created"
    assert len(lines) == 1
    return sent, json.loads(lines[0]), started[0][0]


def test_a_response_is_handed_over_whole_and_logged(capsys):
    access_log.flush()
    capsys.readouterr()
    body = _Body([b"ab", b"cde"], streaming=False)
    sent, line, _ = _serve(body, capsys)
    assert sent == [b"abcde"]
    assert body.closed  # Django's request_finished: connection upkeep
    assert line["logger"] == "granian.access"
    assert (line["method"], line["path"], line["status"], line["bytes"]) == (
        "PUT",
        "/v2/p/r/manifests/v1",
        201,
        5,
    )
    assert line["request_id"] == "rid-1"
    assert line["remote"] == "10.0.0.2"


def test_an_access_line_carries_the_cpu_time_the_application_spent(capsys):
    access_log.flush()
    capsys.readouterr()

    class Busy(_Body):
        def __iter__(self):
            deadline = time.thread_time() + 0.02
            while time.thread_time() < deadline:  # 20 ms of this thread's CPU
                pass
            return super().__iter__()

    _, line, _ = _serve(Busy([b"ab"], streaming=False), capsys)
    assert 20 <= line["cpu_ms"] < 1000


def test_a_streamed_response_is_logged_when_it_closes(capsys):
    access_log.flush()
    capsys.readouterr()
    body = _Body([b"a" * 10, b"b" * 7], streaming=True)
    sent, line, _ = _serve(body, capsys)
    assert sent == [b"a" * 10, b"b" * 7]  # chunk by chunk, not joined
    assert body.closed
    assert (line["status"], line["bytes"], line["request_id"]) == (201, 17, "rid-1")


def test_a_response_with_work_after_sending_is_closed_after_its_bytes(capsys):
    access_log.flush()
    capsys.readouterr()
    body = _Body([b"{}"], streaming=False)
    body.close_after_sending = True  # type: ignore[attr-defined]  # proxy_cache.gate's job log
    environ = {"REMOTE_ADDR": "", "REQUEST_METHOD": "GET", "PATH_INFO": "/", "QUERY_STRING": ""}
    answer = AccessLogged(lambda environ, start: body)(environ, lambda *args: None)
    assert not body.closed  # granian sends the bytes first
    assert list(answer) == [b"{}"]
    answer.close()  # type: ignore[attr-defined]  # an iterable granian closes
    assert body.closed


def test_a_stale_socket_is_removed_before_granian_binds(tmp_path):
    path = tmp_path / "core.sock"
    with socket.socket(socket.AF_UNIX) as listener:
        listener.bind(str(path))  # closed without unlinking: what a killed server leaves
    assert path.exists()
    remove_stale_socket(["granian_serve", "--uds", str(path), "app:application"])
    assert not path.exists()
    remove_stale_socket(["granian_serve", "--uds", str(path), "app:application"])  # none left

    path.write_text("not a socket")
    with pytest.raises(SystemExit, match="not a socket"):
        remove_stale_socket(["granian_serve", "--uds", str(path), "app:application"])
    assert path.exists()


class _Protocol:
    """granian's side of one request, as its WSGI callback wrapper calls it."""

    def response_bytes(self, status: int, headers: list, body: bytes) -> None:
        self.answer = (status, body)


def _environ_granian_gives(scope: dict) -> dict:
    """The environ granian's own builder (granian/wsgi.py) hands the application."""
    from granian.wsgi import _callback_wrapper

    seen: dict = {}

    def app(environ, start_response):
        seen.update(environ)
        start_response("200 OK", [])
        return [b""]

    _callback_wrapper(app, {}, None)(_Protocol(), scope)
    return seen


def test_the_process_environment_stays_out_of_the_request(monkeypatch):
    import granian.wsgi

    from harbor_py.ops.granian_serve import hide_process_environment

    monkeypatch.setattr(granian.wsgi, "os", granian.wsgi.os)  # restored afterwards
    for name, value in {
        "DATABASE_URL": "postgres://secret@db/harbor",
        "HTTP_PROXY": "http://proxy:3128",  # named like a request's `Proxy` header
        "HTTP_X_FORWARDED_FOR": "10.9.9.9",
        "CONTENT_LENGTH": "7",
        "CONTENT_TYPE": "x/y",
    }.items():
        monkeypatch.setenv(name, value)
    scope = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/v2/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "10.0.0.2",
        "wsgi.url_scheme": "http",
        "HTTP_AUTHORIZATION": "Bearer t",
        "HTTP_X_FORWARDED_FOR": "10.0.0.1",  # the request's own header wins
    }
    hide_process_environment()
    environ = _environ_granian_gives(scope)
    assert {name: environ[name] for name in scope} == scope
    added = {name for name in set(environ) - set(scope) if not name.startswith("wsgi.")}
    assert added == {"GATEWAY_INTERFACE", "SCRIPT_NAME", "SERVER_SOFTWARE"}  # granian's own


def test_the_main_process_listens_for_every_worker():
    from harbor_py.ops.granian_serve import OneListenerServer

    server = OneListenerServer("app:application", address="127.0.0.1", port=0)
    server._init_shared_socket()
    try:
        listener = server._sso
        assert listener is not None and listener.get_inheritable()  # the forked workers'
        assert server._ssp is None  # no worker binds a socket of its own
        # the kernel queues connections from now on, although no worker has started
        assert listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN) == 1
        assert listener.getsockname()[0] == "127.0.0.1"
    finally:
        server._drop_shared_socket()


def test_preloading_opens_no_connection_and_starts_no_thread():
    """What the workers inherit from granian's main process (granian_serve.preload)."""
    import subprocess
    import sys

    probe = (
        "import os, sys, threading\n"
        "from harbor_py.ops.granian_serve import preload\n"
        "preload(['granian_serve', '--factory', 'harbor_py.granian_app:worker_application'])\n"
        "fds = [os.readlink(f'/proc/self/fd/{fd}') for fd in os.listdir('/proc/self/fd')\n"
        "       if os.path.exists(f'/proc/self/fd/{fd}')]\n"
        "print([fd for fd in fds if fd.startswith('socket:')], threading.active_count())\n"
        "print([m in sys.modules for m in ('harbor_py.granian_app', 'registry.v2_urls')])\n"
    )
    out = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout.splitlines()
    assert out == ["[] 1", "[True, True]"]  # no socket, one thread; app and URL conf loaded


def test_serve_web_runs_granian_in_its_own_process(monkeypatch):
    """`manage.py serve web` (compose, HA nodes) has Django loaded: it hands granian's
    options to granian_serve instead of exec'ing a second interpreter that loads it again."""
    from django.core.management import call_command

    from harbor_py.ops import granian_serve

    served: list[list[str]] = []
    monkeypatch.setattr(granian_serve, "main", served.append)
    monkeypatch.setattr("os.execve", lambda *args: pytest.fail(f"exec'd {args[0]}"))
    monkeypatch.delenv("HARBOR_WEB_SERVER", raising=False)
    monkeypatch.setenv("HARBOR_WEB_BIND", "127.0.0.1:18998")
    call_command("serve", "web")
    [options] = served
    assert options[:2] == ["--interface", "wsgi"]
    assert "--host 127.0.0.1 --port 18998" in " ".join(options)
    assert options[-2:] == ["--factory", "harbor_py.granian_app:worker_application"]
