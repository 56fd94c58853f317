"""Project RBAC enforced through the registry protocol, with a real client."""

from __future__ import annotations

import uuid
from pathlib import Path

import httpx
import pytest

from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, jwt_claims, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
PASSWORD = "Passw0rd!x"


@pytest.fixture(scope="module")
def world(stack: Instance, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A private and a public project with one image each, and one user per role."""
    suffix = uuid.uuid4().hex[:8]
    private, public = f"priv{suffix}", f"pub{suffix}"
    stack.create_project(private)
    stack.create_project(public, public=True)
    image = make_image(tmp_path_factory.mktemp("img") / "src", layer_sizes=[2048])
    for project in (private, public):
        skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    users = {}
    for role_name, role_id in [
        ("admin", 1),
        ("developer", 2),
        ("guest", 3),
        ("maintainer", 4),
        ("limited", 5),
        ("outsider", None),
    ]:
        username = f"{role_name}{suffix}"
        stack.create_user(username, PASSWORD)
        if role_id:
            stack.add_member(private, username, role_id)
        users[role_name] = (username, PASSWORD)
    return {"private": private, "public": public, "image": image, "users": users}


def _ref(stack: Instance, project: str, tag: str = "v1") -> str:
    return f"docker://{stack.host}/{project}/app:{tag}"


def _pull(stack: Instance, world: dict, project: str, creds, tmp_path: Path):
    return skopeo(
        "copy",
        _ref(stack, project),
        f"oci:{tmp_path / uuid.uuid4().hex}:x",
        creds=creds,
        check=False,
    )


def _push(stack: Instance, world: dict, project: str, creds, tag: str):
    return skopeo("copy", world["image"].ref, _ref(stack, project, tag), creds=creds, check=False)


def test_anonymous_pulls_public_only_and_never_pushes(stack, world, tmp_path):
    assert _pull(stack, world, world["public"], None, tmp_path).returncode == 0
    assert _pull(stack, world, world["private"], None, tmp_path).returncode != 0
    assert _push(stack, world, world["public"], None, "anon").returncode != 0


def test_guest_pulls_but_cannot_push(stack, world, tmp_path):
    for role in ("guest", "limited"):
        creds = world["users"][role]
        assert _pull(stack, world, world["private"], creds, tmp_path).returncode == 0
        refused = _push(stack, world, world["private"], creds, f"by-{role}")
        assert refused.returncode != 0
        assert "denied" in refused.stderr.lower()


def test_developer_pushes_but_cannot_delete(stack, world):
    creds = world["users"]["developer"]
    assert _push(stack, world, world["private"], creds, "dev").returncode == 0
    digest_ref = f"docker://{stack.host}/{world['private']}/app@{world['image'].manifest_digest}"
    refused = skopeo("delete", digest_ref, creds=creds, check=False)
    assert refused.returncode != 0
    assert (
        skopeo("inspect", _ref(stack, world["private"], "dev"), creds=creds, check=False).returncode
        == 0
    )


def test_maintainer_deletes(stack, world, tmp_path):
    project = world["private"]
    image = make_image(tmp_path / "m", layer_sizes=[64])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/doomed:v1", creds=ADMIN)
    creds = world["users"]["maintainer"]
    skopeo("delete", f"docker://{stack.host}/{project}/doomed@{image.manifest_digest}", creds=creds)
    gone = skopeo("inspect", f"docker://{stack.host}/{project}/doomed:v1", creds=creds, check=False)
    assert gone.returncode != 0


def test_outsider_sees_nothing_of_a_private_project(stack, world, tmp_path):
    creds = world["users"]["outsider"]
    with stack.client(creds) as api:
        names = [p["name"] for p in api.get("/api/v2.0/projects", params={"page_size": 100}).json()]
        assert world["private"] not in names
        assert world["public"] in names
        missing = api.get(f"/api/v2.0/projects/{world['private']}")
        absent = api.get("/api/v2.0/projects/no-such-project-here")
        assert missing.status_code == absent.status_code == 404
    token = stack.token([f"repository:{world['private']}/app:pull,push"], auth=creds)["token"]
    assert jwt_claims(token)["access"] == []
    assert _pull(stack, world, world["private"], creds, tmp_path).returncode != 0
    # Asking for a private repository and for one that does not exist looks the same.
    with stack.client(None) as registry:
        bearer = {"Authorization": f"Bearer {token}"}
        hidden = registry.get(f"/v2/{world['private']}/app/manifests/v1", headers=bearer)
        nothing = registry.get("/v2/nosuchproject/app/manifests/v1", headers=bearer)
    assert hidden.status_code == nothing.status_code == 404
    assert (
        hidden.json()["errors"][0]["code"] == nothing.json()["errors"][0]["code"] == "NAME_UNKNOWN"
    )


def test_token_carries_only_what_the_role_allows(stack, world):
    scope = f"repository:{world['private']}/app:pull,push,delete"
    expected = {
        "admin": ["delete", "pull", "push"],
        "maintainer": ["delete", "pull", "push"],
        "developer": ["pull", "push"],
        "guest": ["pull"],
        "limited": ["pull"],
    }
    for role, actions in expected.items():
        access = jwt_claims(stack.token([scope], auth=world["users"][role])["token"])["access"]
        assert access == [
            {"type": "repository", "name": f"{world['private']}/app", "actions": actions}
        ]
    catalog = jwt_claims(stack.token(["registry:catalog:*"], auth=world["users"]["admin"])["token"])
    assert catalog["access"] == []


def test_push_to_missing_project_is_refused_and_creates_nothing(stack, world):
    result = _push(stack, world, "nosuchproject", ADMIN, "v1")
    assert result.returncode != 0
    assert "name unknown" in result.stderr.lower() or "denied" in result.stderr.lower()
    with stack.client() as api:
        assert api.get("/api/v2.0/projects/nosuchproject").status_code == 404


def test_distribution_refuses_direct_blob_access_without_scope(stack, world):
    """Blob GETs go straight to distribution: it must enforce the same tokens."""
    digest = world["image"].layer_digests[0]
    path = f"/v2/{world['private']}/app/blobs/{digest}"
    outsider = stack.token(
        [f"repository:{world['private']}/app:pull"], auth=world["users"]["outsider"]
    )
    guest = stack.token([f"repository:{world['private']}/app:pull"], auth=world["users"]["guest"])
    challenge = (
        f'Bearer realm="{stack.url}/service/token",service="harbor-registry",'
        f'scope="repository:{world["private"]}/app:pull"'
    )
    with httpx.Client(base_url=stack.url) as registry:
        for anonymous in (registry.get(path), registry.head(path)):
            assert anonymous.status_code == 401
            assert anonymous.headers.get_list("WWW-Authenticate") == [challenge]
        denied = registry.get(path, headers={"Authorization": f"Bearer {outsider['token']}"})
        assert denied.status_code == 404
        assert denied.json()["errors"][0]["code"] == "NAME_UNKNOWN"
        allowed = registry.get(path, headers={"Authorization": f"Bearer {guest['token']}"})
        assert allowed.status_code == 200
