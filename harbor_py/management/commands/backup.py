"""manage.py backup <dir>: database, registry storage and keys of this instance, online
(harbor_py/ops/backup.py, docs/operations.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from harbor_py.ops.backup import BackupError, backup


class Command(BaseCommand):
    help = "Back up the database, the registry storage and the keys into a new directory."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = backup(options["directory"].resolve())
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        for note in report.notes:
            self.stderr.write(f"note: {note}")
        self.stdout.write(json.dumps(report.manifest["counts"]))
        self.stdout.write(f"backup written to {report.directory}")
