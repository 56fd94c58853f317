"""manage.py quota_recalculate [--project NAME]: recompute every project's storage usage
from its artifacts' blob references, fixing any drift (each project in its own short
transaction, under its quota lock, so pushes may go on meanwhile)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from projects.models import Project
from quotas import services


class Command(BaseCommand):
    help = "Recompute the storage usage of every project (or one) from its references."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--project", help="only this project (by name)")

    def handle(self, *args: Any, **options: Any) -> None:
        projects = Project.objects.order_by("pk")
        if options["project"]:
            projects = projects.filter(name=options["project"])
            if not projects.exists():
                raise CommandError(f"project {options['project']} not found")
        fixed = 0
        for project in projects.iterator():
            before, after = services.recalculate(project=project)
            if before != after:
                fixed += 1
                self.stdout.write(f"{project.name}: {before} -> {after} bytes")
        self.stdout.write(f"{fixed} project(s) corrected")
