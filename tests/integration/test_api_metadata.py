"""/api/v2.0/projects/{project_name_or_id}/metadatas/ (the projectMetadata group)."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from projects.models import Project
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db

URL = "/api/v2.0/projects/demo/metadatas/"


@pytest.fixture
def owner(make_user, make_project):
    user = make_user("owner")
    project = make_project("demo", owner=user)
    project.metadata = {"auto_scan": "true"}
    project.save()
    return user


def stored() -> tuple[bool, dict[str, str]]:
    project = Project.objects.get(name="demo")
    return project.public, project.metadata


def test_list(client_for, owner):
    body = check("listProjectMetadatas", client_for(owner).get(URL), 200)
    assert body == {"auto_scan": "true", "public": "false"}


def test_get_one_and_missing_one(client_for, owner):
    client = client_for(owner)
    assert check("getProjectMetadata", client.get(URL + "auto_scan"), 200) == {"auto_scan": "true"}
    assert check("getProjectMetadata", client.get(URL + "public"), 200) == {"public": "false"}
    assert check("getProjectMetadata", client.get(URL + "severity"), 200) == {}


@pytest.mark.parametrize(
    ("sent", "key", "kept"),
    [
        ("true", "prevent_vul", "true"),
        ("T", "prevent_vul", "true"),
        ("0", "enable_content_trust", "false"),
        ("FALSE", "enable_content_trust_cosign", "false"),
        ("High", "severity", "high"),
        ("none", "severity", "none"),
        ("1", "auto_sbom_generation", "true"),
    ],
)
def test_add_normalises_values(client_for, owner, sent, key, kept):
    check("addProjectMetadatas", client_for(owner).post(URL, {key: sent}, format="json"), 200)
    assert stored()[1] == {"auto_scan": "true", key: kept}
    entry = AuditLog.objects.get(resource_type="project", operation="create")
    assert entry.username == "owner" and key in entry.description


def test_add_existing_key_is_409(client_for, owner):
    client = client_for(owner)
    check("addProjectMetadatas", client.post(URL, {"auto_scan": "false"}, format="json"), 409)
    check("addProjectMetadatas", client.post(URL, {"public": "true"}, format="json"), 409)
    assert stored() == (False, {"auto_scan": "true"})


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"prevent_vul": "true", "severity": "low"},
        {"color": "red"},
        {"retention_id": "1"},
        {"proxy_speed_kb": "10"},
        {"prevent_vul": "yes"},
        {"severity": "urgent"},
        {"prevent_vul": True},
        ["prevent_vul"],
    ],
)
def test_add_bad_body_is_400(client_for, owner, body):
    response = client_for(owner).post(URL, body, format="json")
    check("addProjectMetadatas", response, 400, "BAD_REQUEST")
    assert stored() == (False, {"auto_scan": "true"})


def test_update(client_for, owner):
    client = client_for(owner)
    response = client.put(URL + "auto_scan", {"auto_scan": "false"}, format="json")
    check("updateProjectMetadata", response, 200)
    response = client.put(URL + "severity", {"severity": "Critical", "other": "x"}, format="json")
    check("updateProjectMetadata", response, 200)
    assert stored() == (False, {"auto_scan": "false", "severity": "critical"})
    assert AuditLog.objects.filter(resource_type="project", operation="update").count() == 2


def test_public_maps_onto_the_project(client_for, anon_client, owner):
    client = client_for(owner)
    check("updateProjectMetadata", client.put(URL + "public", {"public": "1"}, format="json"), 200)
    assert stored()[0] is True
    assert anon_client.get("/api/v2.0/projects/demo").status_code == 200
    assert "public" not in stored()[1]
    check("deleteProjectMetadata", client.delete(URL + "public"), 200)
    assert stored()[0] is False
    assert anon_client.get("/api/v2.0/projects/demo").status_code == 404


@pytest.mark.parametrize(
    ("name", "body"),
    [
        ("auto_scan", {"other": "true"}),
        ("auto_scan", {"auto_scan": "maybe"}),
        ("color", {"color": "red"}),
        ("severity", {"severity": "urgent"}),
    ],
)
def test_update_bad_body_is_400(client_for, owner, name, body):
    response = client_for(owner).put(URL + name, body, format="json")
    check("updateProjectMetadata", response, 400, "BAD_REQUEST")
    assert stored() == (False, {"auto_scan": "true"})


def test_delete(client_for, owner):
    client = client_for(owner)
    check("deleteProjectMetadata", client.delete(URL + "auto_scan"), 200)
    assert stored() == (False, {})
    assert AuditLog.objects.filter(resource_type="project", operation="delete").count() == 1
    check("deleteProjectMetadata", client.delete(URL + "auto_scan"), 200)  # Harbor: no error
    assert AuditLog.objects.filter(resource_type="project", operation="delete").count() == 1


def test_missing_project_is_404(client_for, owner):
    client = client_for(owner)
    url = "/api/v2.0/projects/ghost/metadatas/"
    check("listProjectMetadatas", client.get(url), 404, "NOT_FOUND")
    check("getProjectMetadata", client.get(url + "public"), 404, "NOT_FOUND")
    check("addProjectMetadatas", client.post(url, {"public": "1"}, format="json"), 404)
    check("updateProjectMetadata", client.put(url + "public", {"public": "1"}, format="json"), 404)
    check("deleteProjectMetadata", client.delete(url + "public"), 404, "NOT_FOUND")


def test_by_project_id(client_for, owner):
    project = Project.objects.get(name="demo")
    body = check(
        "listProjectMetadatas",
        client_for(owner).get(f"/api/v2.0/projects/{project.pk}/metadatas/"),
        200,
    )
    assert body["public"] == "false"


def test_metadata_shows_in_project(client_for, owner):
    client = client_for(owner)
    client.post(URL, {"severity": "low"}, format="json")
    body = check("getProject", client.get("/api/v2.0/projects/demo"), 200)
    assert body["metadata"] == {"auto_scan": "true", "severity": "low", "public": "false"}


def test_path_without_trailing_slash(client_for, owner):
    client = client_for(owner)
    url = URL.rstrip("/")
    check("addProjectMetadatas", client.post(url, {"severity": "low"}, format="json"), 200)
    assert check("listProjectMetadatas", client.get(url), 200)["severity"] == "low"
