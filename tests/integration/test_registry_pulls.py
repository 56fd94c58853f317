"""Pull times and counts: recorded in Redis on manifest GET, moved into the database in bulk
by the registry.tasks.aggregate_pulls task that django-celery-beat runs."""

from __future__ import annotations

import datetime as dt

import pytest
from django.test import Client
from django_celery_beat.models import PeriodicTask

from harbor_py.celery import app
from registry import pulls
from registry.models import Artifact, Repository, Tag
from registry.tasks import aggregate_pulls
from tests.distribution import bearer, push_image
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]


def test_recorded_pulls_reach_the_database_when_aggregated(make_project):
    project = make_project("demo")
    a, b = image(project, "app", "v1"), image(project, "app", "v2")
    tag = Tag.objects.get(name="v1")
    before = dt.datetime.now(dt.UTC)
    for _ in range(3):
        pulls.record_pull(repository_id=a.repository_id, artifact_id=a.pk, tag_id=tag.pk)
    pulls.record_pull(repository_id=b.repository_id, artifact_id=b.pk)
    # nothing is written on the pull path itself
    assert Artifact.objects.get(pk=a.pk).pull_time is None

    assert aggregate_pulls.apply().get() == {"artifact": 2, "tag": 1, "repository": 1}
    a.refresh_from_db()
    tag.refresh_from_db()
    assert a.pull_time >= before
    assert Artifact.objects.get(pk=b.pk).pull_time >= before
    assert tag.pull_time == a.pull_time
    assert Tag.objects.get(name="v2").pull_time is None
    assert Repository.objects.get(pk=a.repository_id).pull_count == 4

    pulls.record_pull(repository_id=a.repository_id, artifact_id=a.pk)
    assert pulls.aggregate() == {"artifact": 1, "tag": 0, "repository": 1}
    assert Repository.objects.get(pk=a.repository_id).pull_count == 5
    assert Artifact.objects.get(pk=a.pk).pull_time >= a.pull_time


def test_aggregating_nothing_is_harmless(make_project):
    assert pulls.aggregate() == {"artifact": 0, "tag": 0, "repository": 0}


def test_pulls_of_deleted_artifacts_are_dropped(make_project):
    artifact = image(make_project("demo"), "app", "v1")
    pulls.record_pull(repository_id=artifact.repository_id, artifact_id=artifact.pk)
    Repository.objects.all().delete()
    assert pulls.aggregate()["artifact"] == 1


def test_beat_schedules_the_aggregation():
    task = PeriodicTask.objects.get(name="harbor: aggregate pulls")
    assert task.task == "registry.tasks.aggregate_pulls"
    assert task.enabled
    assert task.interval.every == 10 and task.interval.period == "seconds"
    app.loader.import_default_modules()
    assert "registry.tasks.aggregate_pulls" in app.tasks


def test_manifest_get_through_the_gate_records_a_pull(distribution, make_user, make_project):
    make_project("demo", owner=make_user("owner"))
    digest = push_image("owner", "demo/app", "v1")
    token = bearer("owner", "demo/app", {"pull"})
    client = Client()
    accept = "application/vnd.oci.image.manifest.v1+json"
    assert client.head("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=token).status_code == 200
    assert pulls.aggregate()["artifact"] == 0  # HEAD is not a pull
    response = client.get("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=token, HTTP_ACCEPT=accept)
    assert response.status_code == 200
    client.get(f"/v2/demo/app/manifests/{digest}", HTTP_AUTHORIZATION=token, HTTP_ACCEPT=accept)
    pulls.aggregate()
    artifact = Artifact.objects.get(digest=digest)
    assert artifact.pull_time is not None
    assert Tag.objects.get(name="v1").pull_time is not None
    assert artifact.repository.pull_count == 2
