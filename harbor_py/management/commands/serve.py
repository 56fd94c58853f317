"""Run one process of a deployment in the foreground: `manage.py serve <role>`.

The roles of deploy/docker-compose.yml and of a highly available node (docs/deployment.md):

    nginx     render deploy/nginx.conf, then exec nginx
    registry  render deploy/registry.yml, then exec distribution
    web       exec gunicorn
    worker    exec a Celery worker
    beat      Celery beat, only while this process holds the beat lock in Redis

Configuration comes from the environment (harbor_py/runtime.py, harbor_py/topology.py);
the one-shot `manage.py platform prepare` has made the keys and migrated the database.
"""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from harbor_py.management.commands.platform import render_configs
from harbor_py.runtime import Runtime
from harbor_py.topology import load_topology

ROLES = ("nginx", "registry", "web", "worker", "beat")


def node_name() -> str:
    return os.environ.get("HARBOR_NODE_NAME") or socket.gethostname()


def role_argv(role: str, rt: Runtime, config_dir: Path) -> list[str]:
    """The command line of a role; nginx and registry read their config from config_dir."""
    topology = load_topology(rt)
    bin_dir = Path(sys.executable).parent
    if role == "nginx":
        config = config_dir / "nginx.conf"
        return ["/usr/sbin/nginx", "-c", str(config), "-p", str(rt.data_dir), "-g", "daemon off;"]
    if role == "registry":
        return ["/usr/bin/docker-registry", "serve", str(config_dir / "registry.yml")]
    if role == "web":
        # As deploy/supervisord.conf runs it: JSON logs and metrics from the same config.
        return [
            str(bin_dir / "gunicorn"),
            "harbor_py.wsgi:application",
            *("-c", "python:harbor_py.ops.gunicorn_conf"),
            *("--bind", topology.web_bind),
            *("--worker-class", "gthread"),
            *("--workers", os.environ.get("HARBOR_WEB_WORKERS", "2")),
            *("--threads", "8", "--keep-alive", "75"),
        ]
    if role == "worker":
        concurrency = os.environ.get("HARBOR_WORKER_CONCURRENCY", "2")
        return [
            str(bin_dir / "celery"),
            *("-A", "harbor_py", "worker", "--loglevel", "INFO"),
            *("--concurrency", concurrency, "-n", f"harbor-{node_name()}@%h"),
        ]
    if role == "beat":
        return [
            str(bin_dir / "celery"),
            "-A",
            "harbor_py",
            "beat",
            "--loglevel",
            "INFO",
            "--pidfile=",
        ]
    raise ValueError(f"unknown role {role}")


class Command(BaseCommand):
    help = "Run one process of a deployment (nginx, registry, web, worker or beat)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("role", choices=ROLES)

    def handle(self, *args: Any, **options: Any) -> None:
        rt: Runtime = settings.RUNTIME
        role = options["role"]
        for directory in (rt.run_dir, rt.log_dir, rt.run_dir / "nginx-tmp"):
            directory.mkdir(parents=True, exist_ok=True)
        # Each process renders its own copy: nodes sharing a data dir differ in addresses.
        config_dir = rt.config_dir / f"{role}-{node_name()}"
        if role in ("nginx", "registry"):
            render_configs(rt, config_dir)
        argv = role_argv(role, rt, config_dir)
        if role == "beat":
            from harbor_py.beat_lock import run_while_leader

            sys.exit(run_while_leader(argv, node=node_name()))
        sys.stdout.flush()
        os.execv(argv[0], argv)
