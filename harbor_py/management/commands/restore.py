"""manage.py restore <dir>: a backup of `manage.py backup` into this (stopped, fresh)
instance, then the migrations of this code version (docs/operations.md)."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from redis.exceptions import RedisError

from harbor_py.core import configuration
from harbor_py.ops.backup import BackupError, restore


class Command(BaseCommand):
    help = "Restore a backup into a fresh instance (empty database); the platform is stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("directory", type=Path)
        parser.add_argument(
            "--force", action="store_true", help="restore over a database that is not empty"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            report = restore(options["directory"].resolve(), force=options["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        # A backup of an older version comes up to this code's schema.
        call_command("migrate", interactive=False, verbosity=0)
        with contextlib.suppress(RedisError, OSError):  # settings cached before the restore
            cache.delete(configuration.CACHE_KEY)
        for note in report.notes:
            self.stderr.write(f"note: {note}")
        self.stdout.write(f"restored {report.manifest['counts']} from {report.directory}")
