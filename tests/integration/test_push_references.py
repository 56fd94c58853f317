"""registry.push records index -> child references: a child pushed after the index that
names it is adopted by that index's reference, in a repository that existed before and in
one the index's push created; a child pushed to a new repository needs no adoption."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry import push
from registry.manifests import ParsedManifest, parse_manifest
from registry.models import ArtifactReference
from tests.integration.registry_data import parsed_image

pytestmark = pytest.mark.django_db

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def _index(child: ParsedManifest) -> ParsedManifest:
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": child.digest,
                "size": child.size,
                "platform": {"architecture": "amd64", "os": "linux"},
            }
        ],
    }
    return parse_manifest(json.dumps(doc).encode(), OCI_INDEX)


def _push(project, repository: str, parsed: ParsedManifest, tag: str | None) -> list[str]:
    with CaptureQueriesContext(connection) as queries:
        reservation = push.reserve(
            project=project, repository_name=repository, parsed=parsed, tag=tag
        )
        push.complete(reservation=reservation, tag=tag, username="ci")
    return [q["sql"] for q in queries.captured_queries]


@pytest.mark.parametrize("repository_existed", [True, False], ids=["old-repo", "new-repo"])
def test_a_child_pushed_after_its_index_is_adopted(make_project, repository_existed):
    project = make_project("demo")
    if repository_existed:
        _push(project, "demo/app", parsed_image("other"), "other")
    child = parsed_image("child")
    _push(project, "demo/app", _index(child), "multi")
    reference = ArtifactReference.objects.get(child_digest=child.digest)
    assert reference.child_id is None  # the child is not there yet

    _push(project, "demo/app", child, None)
    reference.refresh_from_db()
    assert reference.child is not None and reference.child.digest == child.digest


def test_a_push_that_creates_the_repository_adopts_nothing(make_project):
    project = make_project("demo")
    first = _push(project, "demo/new", parsed_image("a"), "v1")
    assert not any("UPDATE artifact_reference" in sql for sql in first)
    second = _push(project, "demo/new", parsed_image("b"), "v2")
    assert any("UPDATE artifact_reference" in sql for sql in second)
