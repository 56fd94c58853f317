"""Seed Harbor's "small" performance data set: projects x repositories x artifacts x tags.

    manage.py seed --projects 100 --repositories 100 --artifacts 10 --tags 5 --member dev

Rows only (no registry bytes): for measuring API list and search performance, not pulls.
Projects are named <prefix>0000.., every other one public; repositories
<project>/repo000..; every artifact gets --tags tags and --labels global labels. Projects
that already exist are skipped, so an interrupted run can be resumed. Artifacts, tags and
their links go in with COPY on PostgreSQL (executemany elsewhere), one transaction per
project; the tables are ANALYZEd at the end so that the planner sees the new sizes
(unless --no-analyze).
"""

from __future__ import annotations

import hashlib
import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.utils import timezone

from accounts.models import User
from projects.models import Project, ProjectMember
from projects.roles import Role
from registry.models import Artifact, ArtifactBlob, ArtifactLabel, Blob, Label, Repository, Tag

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
EXTRA_ATTRS = json.dumps({"architecture": "amd64", "os": "linux"})
TABLES = (Project, ProjectMember, Repository, Artifact, Tag, ArtifactBlob, ArtifactLabel)
_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


# The columns of an artifact row inserted in bulk (also bench/bench_gc.py's).
ARTIFACT_COLUMNS = (
    "repository_id",
    "digest",
    "type",
    "media_type",
    "manifest_media_type",
    "artifact_type",
    "subject_digest",
    "size",
    "extra_attrs",
    "annotations",
    "push_time",
)


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


def _copy_text(value: object) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value).translate(_COPY_ESCAPES)


def insert_rows(table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Insert plain rows: COPY on PostgreSQL (one round trip), executemany elsewhere."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            buffer = io.StringIO()
            for row in rows:
                buffer.write("\t".join(map(_copy_text, row)))
                buffer.write("\n")
            with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
                copy.write(buffer.getvalue())
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(
                f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})", list(rows)
            )


class Command(BaseCommand):
    help = "Seed projects, repositories, artifacts and tags for performance measurements."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--projects", type=int, default=100)
        parser.add_argument("--repositories", type=int, default=100, help="per project")
        parser.add_argument("--artifacts", type=int, default=10, help="per repository")
        parser.add_argument("--tags", type=int, default=5, help="per artifact")
        parser.add_argument(
            "--labels", type=int, default=1, help="global labels added to every artifact (1)"
        )
        parser.add_argument("--prefix", default="perf", help="project name prefix (perf)")
        parser.add_argument("--owner", default="admin", help="owner of the projects (admin)")
        parser.add_argument("--member", default="", help="username made Developer of every project")
        parser.add_argument(
            "--no-analyze",
            action="store_true",
            help="leave the planner without statistics (a new database with autovacuum off)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        counts = [options[k] for k in ("projects", "repositories", "artifacts", "tags", "labels")]
        if min(counts) < 0:
            raise CommandError("counts must not be negative")
        owner = self._user(options["owner"])
        member = self._user(options["member"]) if options["member"] else None
        prefix = options["prefix"]
        shared = Blob.objects.get_or_create(
            digest=_digest(prefix, "shared-layer"),
            defaults={
                "size": 1 << 20,
                "content_type": "application/vnd.oci.image.layer.v1.tar+gzip",
            },
        )[0]
        labels = [
            Label.objects.get_or_create(
                name=f"{prefix}-label-{i}", scope=Label.Scope.GLOBAL, defaults={"color": "#0095D3"}
            )[0].pk
            for i in range(options["labels"])
        ]
        names = [f"{prefix}{p:04d}" for p in range(options["projects"])]
        existing = set(Project.objects.filter(name__in=names).values_list("name", flat=True))
        seeded = 0
        for p, name in enumerate(names):
            if name in existing:
                continue
            with transaction.atomic():
                self._seed_project(owner, member, shared, labels, name, p % 2 == 0, options)
            seeded += 1
            if seeded % 10 == 0:
                self.stdout.write(f"seeded {seeded} projects")
        if existing:
            self.stdout.write(f"skipped {len(existing)} projects that already existed")
        if connection.vendor == "postgresql" and not options["no_analyze"]:
            with connection.cursor() as cursor:
                for model in TABLES:
                    cursor.execute(f"ANALYZE {model._meta.db_table}")
        self.stdout.write(f"done: {seeded} projects seeded")

    def _user(self, username: str) -> User:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"user {username!r} does not exist")
        return user

    def _seed_project(
        self,
        owner: User,
        member: User | None,
        shared: Blob,
        labels: list[int],
        name: str,
        public: bool,
        options: dict[str, Any],
    ) -> None:
        project = Project.objects.create(name=name, owner=owner, public=public)
        members = [ProjectMember(project=project, user=owner, role=Role.PROJECT_ADMIN)]
        if member and member.pk != owner.pk:
            members.append(ProjectMember(project=project, user=member, role=Role.DEVELOPER))
        ProjectMember.objects.bulk_create(members)
        repositories = Repository.objects.bulk_create(
            [
                Repository(project=project, name=f"{name}/repo{r:03d}")
                for r in range(options["repositories"])
            ]
        )
        n_artifacts = options["artifacts"]
        if not repositories or not n_artifacts:
            return
        # Distinct push times, oldest first, so that the default sort (-push_time) is real.
        start = timezone.now() - timedelta(seconds=n_artifacts)
        insert_rows(
            Artifact._meta.db_table,
            ARTIFACT_COLUMNS,
            (
                (
                    repo.pk,
                    _digest(repo.name, a),
                    "IMAGE",
                    OCI_CONFIG,
                    OCI_MANIFEST,
                    "",
                    "",
                    (1 << 20) + a,
                    EXTRA_ATTRS,
                    "{}",
                    start + timedelta(seconds=a),
                )
                for repo in repositories
                for a in range(n_artifacts)
            ),
        )
        artifacts = list(
            Artifact.objects.filter(repository__project=project).values_list(
                "pk", "repository_id", "digest", "push_time"
            )
        )
        insert_rows(
            Tag._meta.db_table,
            ("repository_id", "artifact_id", "name", "push_time"),
            (
                (repo_id, pk, f"v{i}-{digest[7:15]}", pushed + timedelta(milliseconds=i))
                for pk, repo_id, digest, pushed in artifacts
                for i in range(options["tags"])
            ),
        )
        insert_rows(
            ArtifactBlob._meta.db_table,
            ("artifact_id", "blob_id"),
            ((pk, shared.pk) for pk, *_ in artifacts),
        )
        now = timezone.now()
        insert_rows(
            ArtifactLabel._meta.db_table,
            ("artifact_id", "label_id", "creation_time"),
            ((pk, label, now) for pk, *_ in artifacts for label in labels),
        )
