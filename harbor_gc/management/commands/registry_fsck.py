"""manage.py registry_fsck [--repair] [--json] [--grace-minutes N]: compare the database
with registry storage (harbor_gc/fsck.py) and, with --repair, fix what is safely fixable."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from harbor_gc import fsck
from harbor_gc.storage import storage_from_settings

SHOWN = 20  # examples printed per kind


class Command(BaseCommand):
    help = "Report drift between the database and registry storage; --repair fixes it."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--repair", action="store_true", help="fix what is safely fixable")
        parser.add_argument("--json", action="store_true", help="print the report as JSON")
        parser.add_argument(
            "--grace-minutes",
            type=float,
            default=10.0,
            help="leave out artifacts pushed this recently (default 10)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        storage = storage_from_settings()
        report = fsck.check(storage, grace=dt.timedelta(minutes=options["grace_minutes"]))
        if options["repair"]:
            fsck.repair(storage, report)
        if options["json"]:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
            return
        data = report.as_dict()
        for kind, items in data.items():
            if kind == "repaired":
                continue
            self.stdout.write(f"{kind}: {len(items)}")
            for item in items[:SHOWN]:
                self.stdout.write(f"  {json.dumps(item)}")
            if len(items) > SHOWN:
                self.stdout.write(f"  ... and {len(items) - SHOWN} more")
        if report.repaired:
            self.stdout.write("repaired: " + json.dumps(report.repaired))
        elif report.drift:
            self.stdout.write("drift found; --repair fixes what is safely fixable")
        else:
            self.stdout.write("database and storage agree")
