"""harbor_py.core.db: fetch_one gives the instance the ORM would, converted values included;
insert writes the row save() would."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from accounts.models import User
from harbor_py.core.db import IGNORE_CONFLICTS, fetch_one, insert, insert_with_child
from projects.models import Project
from registry.models import Artifact, ArtifactAddition, Repository, Tag
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db


def _same(found, expected) -> None:
    assert found is not None and found.pk == expected.pk
    assert found._state.adding is False and found._state.db == "default"
    for field in type(expected)._meta.concrete_fields:
        assert getattr(found, field.attname) == getattr(expected, field.attname), field.name


def test_rows_match_the_orm_json_and_dates_included(make_user, make_project):
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    Project.objects.filter(pk=project.pk).update(metadata={"public": "false", "n": [1, 2]})
    artifact = image(project, "app", "v1")
    Artifact.objects.filter(pk=artifact.pk).update(extra_attrs={"os": "linux", "x": {"y": 1}})

    _same(fetch_one(Project, "name = %s", ["demo"]), Project.objects.get(name="demo"))
    _same(fetch_one(User, "username = %s", ["owner"]), User.objects.get(username="owner"))
    found = fetch_one(Artifact, "id = %s", [artifact.pk])
    _same(found, Artifact.objects.get(pk=artifact.pk))
    assert found.extra_attrs == {"os": "linux", "x": {"y": 1}}
    assert model_to_dict(found) == model_to_dict(Artifact.objects.get(pk=artifact.pk))


def test_no_row_is_none(db):
    assert fetch_one(Project, "name = %s", ["absent"]) is None


def test_values_are_parameters_not_sql(make_project):
    make_project("demo")
    assert fetch_one(Project, "name = %s", ["demo' OR '1'='1"]) is None


def test_statements_run_again_and_again_are_prepared(make_project):
    """harbor_py.settings: psycopg 3 with server-side binding prepares repeated statements,
    so PostgreSQL does not parse and plan them on every push."""
    from django.db import connection

    make_project("demo")
    for _ in range(3):
        assert fetch_one(Project, "name = %s", ["demo"]) is not None
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_prepared_statements WHERE statement LIKE %s",
            ['%FROM "project" WHERE name = $1 LIMIT 1%'],
        )
        assert cursor.fetchone()[0] == 1


def test_insert_writes_what_save_writes(make_project):
    project = make_project("demo")
    repository = Repository(project=project, name="demo/app")
    insert([repository], returning_pk=True)
    assert repository.pk is not None and repository._state.adding is False
    fields = {
        "repository": repository,
        "digest": "sha256:" + "a" * 64,
        "media_type": "application/vnd.oci.image.config.v1+json",
        "manifest_media_type": "application/vnd.oci.image.manifest.v1+json",
        "size": 123,
        "extra_attrs": {"os": "linux", "config": {"Env": ["A=1"]}},
        "annotations": {"org.opencontainers.image.title": "x"},
    }
    fast = Artifact(**fields)
    insert([fast], returning_pk=True)
    saved = Artifact(**{**fields, "digest": "sha256:" + "b" * 64})
    saved.save()
    stored = Artifact.objects.get(pk=fast.pk)
    assert stored.push_time is not None and stored.push_time == fast.push_time  # auto_now_add
    reference = Artifact.objects.get(pk=saved.pk)
    for field in Artifact._meta.concrete_fields:
        if field.name not in {"id", "digest", "push_time"}:
            assert getattr(stored, field.attname) == getattr(reference, field.attname), field.name


def test_insert_on_conflict_ignores_or_updates(make_project):
    artifact = image(make_project("demo"), "app", "v1")
    other = image(artifact.repository.project, "app", "v2")
    repository = artifact.repository
    again = Repository(project=repository.project, name=repository.name)
    assert insert([again], on_conflict=IGNORE_CONFLICTS, returning_pk=True) == 0
    assert again.pk is None and again._state.adding is True
    assert Repository.objects.filter(name=repository.name).count() == 1
    moved = Tag(repository=repository, artifact=other, name="v1")
    insert(
        [moved],
        on_conflict="ON CONFLICT (repository_id, name) DO UPDATE "
        "SET artifact_id = EXCLUDED.artifact_id, push_time = EXCLUDED.push_time",
    )
    assert Tag.objects.get(repository=repository, name="v1").artifact_id == other.pk


def test_insert_values_are_parameters_not_sql(make_project):
    project = make_project("demo")
    hostile = "demo/x'); DROP TABLE repository; --"
    insert([Repository(project=project, name=hostile)])
    assert Repository.objects.filter(name=hostile).exists()


def test_insert_when_writes_the_row_only_while_the_condition_holds(make_project):
    project = make_project("demo")
    exists = "EXISTS (SELECT 1 FROM project WHERE id = %s)"
    written = Repository(project=project, name="demo/a")
    assert insert([written], returning_pk=True, when=(exists, [project.pk])) == 1
    assert written.pk is not None and Repository.objects.get(pk=written.pk).name == "demo/a"
    skipped = Repository(project=project, name="demo/b")
    assert insert([skipped], returning_pk=True, when=(exists, [project.pk + 1000])) == 0
    assert skipped.pk is None and not Repository.objects.filter(name="demo/b").exists()


def test_insert_with_child_writes_both_or_neither(make_project):
    artifact = image(make_project("demo"), "app", "v1")
    repository = artifact.repository
    history = '[{"created_by":"x"}]'
    new = Artifact(repository=repository, digest="sha256:" + "c" * 64, media_type="m", size=1)
    addition = ArtifactAddition(artifact=new, type="build_history", content=history)
    assert insert_with_child(new, addition) is True
    assert new.pk is not None and new._state.adding is False and addition.artifact_id == new.pk
    stored = ArtifactAddition.objects.get(artifact_id=new.pk)
    assert (stored.type, stored.content, stored.content_type) == (
        "build_history",
        history,
        "application/json; charset=utf-8",
    )
    again = Artifact(repository=repository, digest=new.digest, media_type="m", size=1)
    other = ArtifactAddition(artifact=again, type="other", content="[]")
    assert insert_with_child(again, other) is False  # the digest is there: neither is written
    assert again.pk is None and not ArtifactAddition.objects.filter(type="other").exists()
