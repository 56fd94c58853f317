"""What the operations pieces add to the rendered supervisord config (deploy/): log
rotation, the log forwarder and the metrics exporter, from the environment."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

from harbor_py.core import env
from harbor_py.core.runtime import Runtime
from harbor_py.ops.logforward import parse_target


def supervisor_context(rt: Runtime) -> dict[str, Any]:
    forward = env.get("HARBOR_LOG_FORWARD_ENDPOINT", "").strip()
    if forward:
        parse_target(forward)  # a bad endpoint fails `platform prepare`, not the forwarder
    metrics_listen = env.get("HARBOR_METRICS_LISTEN", "").strip()
    multiproc = f',PROMETHEUS_MULTIPROC_DIR="{rt.run_dir / "metrics"}"'
    return {
        # supervisord's size-based rotation of every program's log.
        "log_max_bytes": env.get("HARBOR_LOG_MAX_BYTES", "50MB"),
        "log_backups": int(env.get("HARBOR_LOG_BACKUPS", "5")),
        "log_forward_endpoint": forward,
        "metrics_listen": metrics_listen,
        "metrics_environment": multiproc if metrics_listen else "",
    }


def bridge_legacy_web_socket(rt: Runtime) -> None:
    """The web socket was run/gunicorn.sock before it was renamed run/web.sock. An instance
    started before the rename keeps its server on the old path after `platform up` has
    rendered nginx.conf for the new one (it says "already running"): web.sock links to
    the old socket while a server listens there, so an nginx that supervisord restarts
    still reaches it. Once nothing listens, the link and the old socket go, before
    supervisord starts the new server (which refuses a link: granian_serve)."""
    legacy = rt.run_dir / "gunicorn.sock"
    if _listening(legacy):
        if not rt.web_socket.exists() and not rt.web_socket.is_symlink():
            rt.web_socket.symlink_to(legacy)
        return
    if rt.web_socket.is_symlink():
        rt.web_socket.unlink()
    if legacy.is_socket():
        legacy.unlink()


def _listening(path: Path) -> bool:
    if not path.is_socket():
        return False
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        probe.settimeout(2)
        try:
            probe.connect(str(path))
        except OSError:
            return False
    return True
