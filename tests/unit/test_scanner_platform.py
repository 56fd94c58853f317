"""The built-in scanner as a process of the platform: supervisord runs it (unless turned
off) on the listen address `serve scanner` uses."""

from __future__ import annotations

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
