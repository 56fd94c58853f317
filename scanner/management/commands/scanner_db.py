"""manage.py scanner_db import PATH | status: the built-in scanner's OSV database, loaded
offline. PATH is an OSV export: per-ecosystem zip files (osv-vulnerabilities'
`<Ecosystem>/all.zip`), a directory of JSON records, or one record; several may be given."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from scanner import vulndb


class Command(BaseCommand):
    help = "Import OSV records into the built-in scanner's database, or show its status."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        importing = sub.add_parser("import", help="load OSV zip files or directories of JSON")
        importing.add_argument("paths", nargs="+", type=Path)
        status = sub.add_parser("status", help="records per ecosystem, last import")
        status.add_argument("--json", action="store_true")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "import":
            for path in options["paths"]:
                try:
                    run = vulndb.import_path(path)
                except ValueError as exc:
                    raise CommandError(str(exc)) from exc
                self.stdout.write(
                    f"{path}: {run.records} record(s) imported ({run.withdrawn} withdrawn)"
                )
            return
        state = vulndb.status()
        if options["json"]:
            self.stdout.write(json.dumps(state))
            return
        self.stdout.write(f"records: {state['records']} ({state['withdrawn']} withdrawn)")
        self.stdout.write(f"updated at: {state['updated_at'] or 'never'}")
        for ecosystem, count in state["ecosystems"].items():
            self.stdout.write(f"  {ecosystem}: {count}")
