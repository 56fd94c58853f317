"""manage.py forward_logs --endpoint tcp://host:514 [--directory DIR]: the supervised log
forwarder (harbor_py/ops/logforward.py, docs/operations.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.forwarding import EndpointInvalid
from harbor_py.ops import logforward


class Command(BaseCommand):
    help = "Send every component's log lines to a syslog endpoint (RFC 5424)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--endpoint", required=True, help="tcp://host:port or udp://host:port")
        parser.add_argument("--directory", type=Path, default=None)
        parser.add_argument("--stop-after", type=float, default=None, help="seconds (tests)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            target = logforward.parse_target(options["endpoint"])
        except EndpointInvalid as exc:
            raise CommandError(str(exc)) from exc
        directory = options["directory"] or settings.RUNTIME.log_dir
        logforward.run(directory, target, stop_after=options["stop_after"])
