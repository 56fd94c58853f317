"""What the operations pieces add to the rendered supervisord config (deploy/): log
rotation, the log forwarder and the metrics exporter, from the environment."""

from __future__ import annotations

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
