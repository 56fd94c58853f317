"""Repository and artifact pages: the listing, layers with their sharing, build history,
pull commands, tags added and removed, deletion with confirmation."""

from __future__ import annotations

import pytest
from django.test import Client

from projects.roles import Role
from registry.models import Artifact, Tag
from tests.distribution import push_image, stored_manifest
from tests.integration.registry_data import image, index

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(artifact: Artifact, tail: str = "") -> str:
    project, path = artifact.repository.name.split("/", 1)
    return f"/projects/{project}/repositories/{path}/-/artifacts/{artifact.digest}{tail}"


def test_repository_lists_artifacts_with_tags_and_hides_index_children(make_user, make_project):
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    amd = image(project, "team/app", None, architecture="amd64")
    arm = image(project, "team/app", None, architecture="arm64")
    multi = index(project, "team/app", "multi", [amd, arm])
    single = image(project, "team/app", "v1")
    body = signed(owner).get("/projects/demo/repositories/team/app/").content.decode()
    assert multi.digest[:19] in body and single.digest[:19] in body
    assert amd.digest[:19] not in body  # shown under its index
    searched = signed(owner).get("/projects/demo/repositories/team/app/?tag=v").content.decode()
    assert single.digest[:19] in searched and multi.digest[:19] not in searched
    detail = signed(owner).get(url(multi)).content.decode()
    assert "Index children" in detail and amd.digest[:19] in detail and "linux/arm64" in detail


def test_artifact_page_shows_layers_sharing_history_and_pull_commands(make_user, make_project):
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    first = image(
        project, "app", "v1", layer_sizes=(1000, 3000), history=[{"created_by": "RUN make"}]
    )
    # A second image in another repository that reuses the first one's layers.
    copy = image(project, "other", "v1", layer_sizes=(5,))
    copy.blobs.add(*first.blobs.exclude(digest=first.digest).exclude(content_type=first.media_type))
    body = signed(owner).get(url(first)).content.decode()
    assert "RUN make" in body
    assert "1 other artifact" in body
    assert "3.9\xa0KiB of 3.9\xa0KiB are shared" in body
    assert "docker pull 127.0.0.1:" in body and "/demo/app:v1" in body
    assert "podman pull --tls-verify=false" in body
    assert "skopeo copy --src-tls-verify=false docker://" in body
    assert 'data-copy="docker pull' in body


def test_a_layer_shared_beyond_the_cap_says_more_than(make_user, make_project, monkeypatch):
    """#28: a base layer may be shared by every artifact of the registry; the page counts
    at most SHARED_COUNT_CAP + 1 of them (counting all of 100,000 took 200 ms a page)."""
    monkeypatch.setattr("frontend.selectors.SHARED_COUNT_CAP", 2)
    owner = make_user("owner")
    project = make_project("demo", owner=owner)
    base = image(project, "app", "v1", layer_sizes=(1000,))
    layer = base.blobs.exclude(digest=base.digest).exclude(content_type=base.media_type)
    for n in range(3):
        image(project, f"other{n}", "v1", layer_sizes=(5,)).blobs.add(*layer)
    body = signed(owner).get(url(base)).content.decode()
    assert "<td>more than 2 other artifacts</td>" in body
    monkeypatch.setattr("frontend.selectors.SHARED_COUNT_CAP", 3)
    assert "<td>3 other artifacts</td>" in signed(owner).get(url(base)).content.decode()


def test_tags_added_and_removed_with_confirmation(make_user, make_project):
    owner, guest = make_user("owner"), make_user("guest")
    project = make_project("demo", owner=owner, members={guest: Role.GUEST})
    artifact = image(project, "app", "v1")
    client = signed(owner)
    client.post(url(artifact, "/tags"), {"name": "v2"})
    assert set(artifact.tags.values_list("name", flat=True)) == {"v1", "v2"}
    bad = client.post(url(artifact, "/tags"), {"name": "bad tag!"}, follow=True)
    assert "is not a valid tag name." in bad.content.decode()
    dup = client.post(url(artifact, "/tags"), {"name": "v2"}, follow=True)
    assert "already exists" in dup.content.decode()
    question = client.get(url(artifact, "/tags/v1/delete")).content.decode()
    assert "Delete tag v1 of demo/app?" in question
    assert Tag.objects.filter(name="v1").exists()
    client.post(url(artifact, "/tags/v1/delete"))
    assert not Tag.objects.filter(name="v1").exists()
    assert signed(guest).post(url(artifact, "/tags"), {"name": "g"}).status_code == 403
    assert signed(guest).post(url(artifact, "/tags/v2/delete")).status_code == 403
    assert Tag.objects.filter(name="v2").exists()


def test_private_repository_is_hidden_from_outsiders(make_user, make_project):
    project = make_project("secret")
    artifact = image(project, "app", "v1")
    outsider = signed(make_user("outsider"))
    assert outsider.get("/projects/secret/repositories/app/").status_code == 404
    assert outsider.get(url(artifact)).status_code == 404


def test_delete_artifact_after_confirmation(distribution, make_user, make_project):
    owner = make_user("owner")
    make_project("demo", owner=owner)
    digest = push_image("owner", "demo/app", "v1")
    artifact = Artifact.objects.get(digest=digest)
    client = signed(owner)
    assert "Delete artifact" in client.get(url(artifact, "/delete")).content.decode()
    response = client.post(url(artifact, "/delete"))
    assert response.status_code == 302
    assert response["Location"] == "/projects/demo/repositories/app/"
    assert not Artifact.objects.filter(pk=artifact.pk).exists()
    assert stored_manifest("demo/app", digest).status_code == 404
