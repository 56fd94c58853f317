"""Every repository, artifact and label operation against Harbor's role matrix
(shared/reference/harbor-project-roles.md): the five roles, a non-member, anonymous and a
sysadmin on a private project, and anonymous on a public one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import jsonschema
import pytest
from rest_framework.test import APIClient

from projects.roles import Role
from registry.models import ArtifactLabel, Label, Tag
from tests.contract import response_schema
from tests.distribution import push_image
from tests.integration.contract_helpers import check
from tests.integration.registry_data import image, referrer

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]

ROLES = {
    "projectAdmin": Role.PROJECT_ADMIN,
    "maintainer": Role.MAINTAINER,
    "developer": Role.DEVELOPER,
    "guest": Role.GUEST,
    "limitedGuest": Role.LIMITED_GUEST,
}
LETTERS = {
    "A": "projectAdmin",
    "M": "maintainer",
    "D": "developer",
    "G": "guest",
    "L": "limitedGuest",
}
CALLERS = [*ROLES, "nonMember", "anonymous", "sysadmin"]


@dataclass(frozen=True)
class Op:
    operation_id: str
    allowed: str  # role letters, from Harbor's matrix
    success: int
    call: Callable[[APIClient, dict], object]
    public_read: bool = False  # what a public project grants anonymous callers


P = "/api/v2.0/projects/{project}"
REPO = P + "/repositories/team%252Fapp"
ART = REPO + "/artifacts/v1"


def _url(template: str, world: dict) -> str:
    return template.format(project=world["project"].name)


OPS = [
    Op("listRepositories", "AMDGL", 200, lambda c, w: c.get(_url(P + "/repositories", w)), True),
    Op("getRepository", "AMDGL", 200, lambda c, w: c.get(_url(REPO, w)), True),
    Op(
        "updateRepository",
        "AMD",
        200,
        lambda c, w: c.put(_url(REPO, w), {"description": "x"}, format="json"),
    ),
    Op("deleteRepository", "AM", 200, lambda c, w: c.delete(_url(REPO, w))),
    Op("listArtifacts", "AMDGL", 200, lambda c, w: c.get(_url(REPO + "/artifacts", w)), True),
    Op("getArtifact", "AMDGL", 200, lambda c, w: c.get(_url(ART, w)), True),
    Op("deleteArtifact", "AM", 200, lambda c, w: c.delete(_url(ART, w))),
    Op(
        "CopyArtifact",
        "AMD",
        201,
        lambda c, w: c.post(_url(P + "/repositories/copied/artifacts", w) + f"?from={w['source']}"),
    ),
    Op(
        "createTag",
        "AMD",
        201,
        lambda c, w: c.post(_url(ART + "/tags", w), {"name": "new"}, format="json"),
    ),
    Op("listTags", "AMDGL", 200, lambda c, w: c.get(_url(ART + "/tags", w)), True),
    Op("deleteTag", "AM", 200, lambda c, w: c.delete(_url(ART + "/tags/extra", w))),
    Op("listAccessories", "AMDGL", 200, lambda c, w: c.get(_url(ART + "/accessories", w)), True),
    Op(
        "getAddition",
        "AMDGL",
        200,
        lambda c, w: c.get(_url(ART + "/additions/build_history", w)),
        True,
    ),
    Op(
        "addLabel",
        "AMD",
        200,
        lambda c, w: c.post(_url(ART + "/labels", w), {"id": w["spare"].pk}, format="json"),
    ),
    Op("removeLabel", "AMD", 200, lambda c, w: c.delete(_url(ART + f"/labels/{w['label'].pk}", w))),
    Op("listArtifactsOfProject", "AMDGL", 200, lambda c, w: c.get(_url(P + "/artifacts", w)), True),
    Op(
        "ListLabels",
        "AMDG",
        200,
        lambda c, w: c.get("/api/v2.0/labels", {"scope": "p", "project_id": w["project"].pk}),
        True,
    ),
    Op(
        "CreateLabel",
        "AM",
        201,
        lambda c, w: c.post(
            "/api/v2.0/labels",
            {"name": "made", "scope": "p", "project_id": w["project"].pk},
            format="json",
        ),
    ),
    Op("GetLabelByID", "AMDG", 200, lambda c, w: c.get(f"/api/v2.0/labels/{w['label'].pk}"), True),
    Op(
        "UpdateLabel",
        "AM",
        200,
        lambda c, w: c.put(f"/api/v2.0/labels/{w['label'].pk}", {"name": "renamed"}, format="json"),
    ),
    Op("DeleteLabel", "AM", 200, lambda c, w: c.delete(f"/api/v2.0/labels/{w['label'].pk}")),
]


def _world(make_user, make_project, caller: str, *, public: bool) -> dict:
    """The project (owned by projectAdmin), its artifacts and labels, and the caller."""
    owner = make_user("projectAdmin")
    members = {}
    if caller in ROLES and caller != "projectAdmin":
        members[make_user(caller)] = ROLES[caller]
    project = make_project("demo", public=public, owner=owner, members=members)
    users = {"projectAdmin": owner, **{user.username: user for user in members}}
    if caller == "nonMember":
        users[caller] = make_user(caller)
    if caller == "sysadmin":
        users[caller] = make_user("root", sysadmin=True)
    v1 = image(project, "team/app", "v1")
    Tag.objects.create(repository=v1.repository, artifact=v1, name="extra")
    referrer(project, "team/app", v1)
    label = Label.objects.create(name="attached", scope="p", project=project)
    ArtifactLabel.objects.create(artifact=v1, label=label)
    spare = Label.objects.create(name="spare", scope="p", project=project)
    return {"users": users, "project": project, "label": label, "spare": spare}


def _client(world: dict, caller: str, client_for) -> APIClient:
    return APIClient() if caller == "anonymous" else client_for(world["users"][caller])


def _check(op: Op, response, status: int) -> None:
    if op.operation_id == "getAddition" and status == 200:
        # the contract's 200 body is the raw addition, a JSON document here
        assert response.status_code == 200, response.content
        jsonschema.validate(response.content.decode(), response_schema("getAddition", 200))
        return
    check(op.operation_id, response, status)


def _expected(op: Op, caller: str) -> int:
    if caller == "sysadmin" or any(LETTERS[letter] == caller for letter in op.allowed):
        return op.success
    return 404 if caller in ("nonMember", "anonymous") else 403


@pytest.mark.parametrize("caller", CALLERS)
@pytest.mark.parametrize("op", OPS, ids=[op.operation_id for op in OPS])
def test_private_project(op, caller, distribution, make_user, make_project, client_for):
    world = _world(make_user, make_project, caller, public=False)
    if op.operation_id == "CopyArtifact":
        push_image("projectAdmin", "demo/src", "v1")  # real blobs to mount
        world["source"] = "demo/src:v1"
    response = op.call(_client(world, caller, client_for), world)
    _check(op, response, _expected(op, caller))


@pytest.mark.parametrize("op", OPS, ids=[op.operation_id for op in OPS])
def test_public_project_anonymous(op, distribution, make_user, make_project):
    world = _world(make_user, make_project, "anonymous", public=True)
    world["source"] = "demo/team/app:v1"
    response = op.call(APIClient(), world)
    _check(op, response, op.success if op.public_read else 401)
