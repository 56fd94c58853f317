"""harbor_py.db.fetch_one gives the instance the ORM would, converted values included."""

from __future__ import annotations

import pytest
from django.forms.models import model_to_dict

from accounts.models import User
from harbor_py.db import fetch_one
from projects.models import Project
from registry.models import Artifact
from tests.unit.registry_data import image

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
