"""The platform's processes: the built-in scanner, which supervisord runs (unless turned
off) on the listen address `serve scanner` uses, and the worker's CPU priority."""

from __future__ import annotations

import pytest

from harbor_py.core.runtime import load_runtime
from harbor_py.management.commands.platform import render_configs
from harbor_py.processes import ROLES, role_argv


def _runtime(tmp_path):
    rt = load_runtime({"HARBOR_PORT": "18999", "HARBOR_DATA_DIR": str(tmp_path / "data")})
    for directory in (rt.log_dir, rt.run_dir / "nginx-tmp", rt.keys_dir):
        directory.mkdir(parents=True, exist_ok=True)
    (rt.keys_dir / "registry_http_secret").write_text("secret")
    return rt


def test_supervisord_runs_the_scanner_unless_turned_off(tmp_path, settings, monkeypatch):
    monkeypatch.setenv("HARBOR_SCANNER_LISTEN", "127.0.0.1:18777")
    rt = _runtime(tmp_path)
    on = (render_configs(rt, tmp_path / "on") / "supervisord.conf").read_text()
    program = on.split("[program:scanner]", 1)[1].split("[program:", 1)[0]
    assert "scanner.wsgi:application --bind 127.0.0.1:18777 --workers 1" in program
    settings.HARBOR = {**settings.HARBOR, "BUILTIN_SCANNER": False}
    off = (render_configs(rt, tmp_path / "off") / "supervisord.conf").read_text()
    assert "[program:scanner]" not in off


def test_serve_scanner_listens_next_to_the_public_port_by_default(tmp_path, monkeypatch):
    monkeypatch.delenv("HARBOR_SCANNER_LISTEN", raising=False)
    rt = _runtime(tmp_path)
    assert "scanner" in ROLES
    argv = role_argv("scanner", rt, rt.config_dir, node="n")
    assert argv[1:4] == ["scanner.wsgi:application", "--bind", "127.0.0.1:19000"]


def test_the_worker_runs_niced_by_default(tmp_path, monkeypatch):
    """Background jobs yield the CPU to the data path unless HARBOR_WORKER_NICE says
    otherwise (docs/deployment.md); a value nice would not take is refused."""
    monkeypatch.delenv("HARBOR_WORKER_NICE", raising=False)
    rt = _runtime(tmp_path)
    assert role_argv("worker", rt, rt.config_dir, node="n")[:3] == ["/usr/bin/nice", "-n", "10"]
    monkeypatch.setenv("HARBOR_WORKER_NICE", "0")
    assert role_argv("worker", rt, rt.config_dir, node="n")[0].endswith("/celery")
    monkeypatch.setenv("HARBOR_WORKER_NICE", "20")
    with pytest.raises(ValueError, match="HARBOR_WORKER_NICE"):
        role_argv("worker", rt, rt.config_dir, node="n")
