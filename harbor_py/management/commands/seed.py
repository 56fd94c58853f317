"""Seed Harbor's "small" performance data set: projects x repositories x artifacts x tags.

    manage.py seed --projects 100 --repositories 100 --artifacts 10 --tags 5

Rows go in with bulk inserts (no registry bytes): for measuring API list and search
performance, not pulls.
"""

from __future__ import annotations

import hashlib
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.db import transaction

from accounts.models import User
from projects.models import Project, ProjectMember
from projects.roles import Role
from registry.models import Artifact, ArtifactBlob, Blob, Repository, Tag

BATCH = 5000
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"


def _digest(*parts: object) -> str:
    return "sha256:" + hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()


class Command(BaseCommand):
    help = "Seed projects, repositories, artifacts and tags for performance measurements."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--projects", type=int, default=100)
        parser.add_argument("--repositories", type=int, default=100)
        parser.add_argument("--artifacts", type=int, default=10)
        parser.add_argument("--tags", type=int, default=5)
        parser.add_argument("--prefix", default="perf")
        parser.add_argument("--member", default="", help="username made Developer of every project")

    def handle(self, *args: Any, **options: Any) -> None:
        owner = User.objects.get(username="admin")
        member = (
            User.objects.filter(username=options["member"]).first() if options["member"] else None
        )
        prefix = options["prefix"]
        shared = Blob.objects.get_or_create(
            digest=_digest(prefix, "shared-layer"),
            defaults={
                "size": 1 << 20,
                "content_type": "application/vnd.oci.image.layer.v1.tar+gzip",
            },
        )[0]
        for p in range(options["projects"]):
            with transaction.atomic():
                self._seed_project(owner, member, shared, f"{prefix}{p:04d}", p % 2 == 0, options)
            if (p + 1) % 10 == 0:
                self.stdout.write(f"seeded {p + 1} projects")

    def _seed_project(
        self,
        owner: User,
        member: User | None,
        shared: Blob,
        name: str,
        public: bool,
        options: dict[str, Any],
    ) -> None:
        project = Project.objects.create(name=name, owner=owner, public=public)
        ProjectMember.objects.create(project=project, user=owner, role=Role.PROJECT_ADMIN)
        if member:
            ProjectMember.objects.create(project=project, user=member, role=Role.DEVELOPER)
        repositories = Repository.objects.bulk_create(
            [
                Repository(project=project, name=f"{name}/repo{r:03d}")
                for r in range(options["repositories"])
            ]
        )
        artifacts = [
            Artifact(
                repository=repo,
                digest=_digest(repo.name, a),
                type="IMAGE",
                media_type=OCI_CONFIG,
                manifest_media_type=OCI_MANIFEST,
                size=(1 << 20) + a,
                extra_attrs={"architecture": "amd64", "os": "linux"},
            )
            for repo in repositories
            for a in range(options["artifacts"])
        ]
        artifacts = Artifact.objects.bulk_create(artifacts, batch_size=BATCH)
        Tag.objects.bulk_create(
            [
                Tag(repository_id=art.repository_id, artifact=art, name=f"v{i}-{art.digest[7:15]}")
                for art in artifacts
                for i in range(options["tags"])
            ],
            batch_size=BATCH,
        )
        ArtifactBlob.objects.bulk_create(
            [ArtifactBlob(artifact=art, blob=shared) for art in artifacts], batch_size=BATCH
        )
