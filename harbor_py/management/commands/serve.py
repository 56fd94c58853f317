"""Run one process of a deployment in the foreground: `manage.py serve <role>`.

The roles of deploy/docker-compose.yml and of a highly available node (docs/deployment.md):

    nginx     render deploy/nginx.conf, then exec nginx
    registry  render deploy/registry.yml, then exec distribution
    web       granian, in this process (or exec gunicorn: HARBOR_WEB_SERVER)
    worker    exec a Celery worker
    beat      Celery beat, only while this process holds the beat lock in Redis

Configuration comes from the environment (harbor_py/core/runtime.py, harbor_py/topology.py);
the one-shot `manage.py platform prepare` has made the keys and migrated the database.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from harbor_py.core import env
from harbor_py.core.runtime import Runtime
from harbor_py.management.commands.platform import render_configs, write_upstream_cas
from harbor_py.processes import GRANIAN_SERVE, ROLES, node_name, process_environment, role_argv


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
        if role == "nginx":
            write_upstream_cas(rt, with_endpoints=True)
        try:
            argv = role_argv(role, rt, config_dir, node=node_name())
        except ValueError as exc:  # a setting the process would not understand
            raise CommandError(str(exc)) from exc
        # render_configs has refused settings role_environment cannot pass on.
        environment = process_environment(role, env.variables())
        if role == "beat":
            from harbor_py.beat_lock import run_while_leader

            sys.exit(run_while_leader(argv, node=node_name()))
        sys.stdout.flush()
        if argv[1:3] == ["-m", GRANIAN_SERVE]:
            # granian in this process, which has loaded Django already: an exec would load
            # it again before granian's main process preloads the application (about 1.5 s
            # of CPU, more where a node restarts on a loaded machine). The environment is
            # this process's (role_environment adds nothing for web).
            from harbor_py.ops import granian_serve

            connections.close_all()  # none may be shared with the forked workers
            granian_serve.main(argv[3:])
            return
        os.execve(argv[0], argv, environment)
