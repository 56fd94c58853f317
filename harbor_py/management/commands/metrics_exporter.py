"""manage.py metrics_exporter --listen 127.0.0.1:9090: Prometheus /metrics on a listener of
its own (Harbor's exporter on 9090), never on the public port (docs/operations.md)."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from prometheus_client import REGISTRY, CollectorRegistry, start_http_server
from prometheus_client.multiprocess import MultiProcessCollector

from harbor_py.ops import metrics, metrics_files


def build_registry() -> CollectorRegistry:
    """Every process's counters of this node (multiprocess mode), or this process's own,
    plus what is computed at scrape time."""
    path = metrics_files.directory()
    if path is None:
        registry = REGISTRY
    else:
        path.mkdir(parents=True, exist_ok=True)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(path))
    registry.register(metrics.QueueCollector())
    registry.register(metrics.ProjectCollector(close_connection=True))
    return registry


class Command(BaseCommand):
    help = "Serve Prometheus metrics on their own listener."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--listen", default="127.0.0.1:9090", help="host:port")

    def handle(self, *args: Any, **options: Any) -> None:
        host, _, port = options["listen"].rpartition(":")
        if not port.isdigit():
            raise CommandError(f"--listen expects host:port, got {options['listen']!r}")
        start_http_server(
            int(port), addr=host.strip("[]") or "127.0.0.1", registry=build_registry()
        )
        self.stdout.write(f"metrics on http://{options['listen']}/metrics")
        while True:
            time.sleep(3600)
