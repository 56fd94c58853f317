"""Robot accounts, storage quotas and tag immutability through the real stack (nginx,
distribution, gunicorn) with skopeo: every refusal and every allowed path."""

from __future__ import annotations

import json
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)


def _ref(stack: Instance, path: str) -> str:
    return f"docker://{stack.host}/{path}"


def _digest(stack: Instance, path: str, creds=ADMIN) -> str:
    return json.loads(skopeo("inspect", _ref(stack, path), creds=creds).stdout)["Digest"]


def _robot(stack: Instance, body: dict) -> dict:
    with stack.client() as api:
        response = api.post("/api/v2.0/robots", json=body)
    assert response.status_code == 201, response.text
    return response.json()


@pytest.fixture(scope="module")
def suffix() -> str:
    return uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def image_a(tmp_path_factory):
    return make_image(tmp_path_factory.mktemp("a") / "img", layer_sizes=[20_000])


@pytest.fixture(scope="module")
def image_b(tmp_path_factory):
    return make_image(tmp_path_factory.mktemp("b") / "img", layer_sizes=[200_000])


# --- robots ----------------------------------------------------------------------------------


def test_ci_robot_pushes_exactly_where_it_was_granted(stack, suffix, image_a, tmp_path):
    granted, other = f"ci{suffix}", f"other{suffix}"
    stack.create_project(granted)
    stack.create_project(other)
    pairs = [("repository", "pull"), ("repository", "push")]
    robot = _robot(
        stack,
        {
            "name": "builder",
            "level": "project",
            "duration": -1,
            "permissions": [
                {
                    "kind": "project",
                    "namespace": granted,
                    "access": [{"resource": r, "action": a} for r, a in pairs],
                }
            ],
        },
    )
    creds = (robot["name"], robot["secret"])
    assert robot["name"] == f"robot${granted}+builder"
    # The "CI job": push, then pull back, with nothing but the robot's credentials.
    skopeo("copy", image_a.ref, _ref(stack, f"{granted}/app:build-1"), creds=creds)
    pulled = skopeo(
        "copy", _ref(stack, f"{granted}/app:build-1"), f"oci:{tmp_path / 'out'}:x", creds=creds
    )
    assert pulled.returncode == 0
    elsewhere = skopeo(
        "copy", image_a.ref, _ref(stack, f"{other}/app:build-1"), creds=creds, check=False
    )
    # A private project the robot may not see answers as a missing one (as for users).
    assert elsewhere.returncode != 0
    assert "name unknown" in elsewhere.stderr, elsewhere.stderr
    with stack.client() as api:
        assert api.get(f"/api/v2.0/projects/{other}/repositories").json() == []
    # Disabled: refused; secret refreshed: the old one is refused, the new one works.
    with stack.client() as api:
        robot_body = api.get(f"/api/v2.0/robots/{robot['id']}").json()
        update = {k: robot_body[k] for k in ("name", "level", "duration", "permissions")}
        assert api.put(f"/api/v2.0/robots/{robot['id']}", json={**update, "disable": True})
    disabled = skopeo(
        "copy", image_a.ref, _ref(stack, f"{granted}/app:build-2"), creds=creds, check=False
    )
    assert disabled.returncode != 0
    with stack.client() as api:
        api.put(f"/api/v2.0/robots/{robot['id']}", json={**update, "disable": False})
        new_secret = api.patch(f"/api/v2.0/robots/{robot['id']}", json={}).json()["secret"]
    stale = skopeo(
        "copy", image_a.ref, _ref(stack, f"{granted}/app:build-3"), creds=creds, check=False
    )
    assert stale.returncode != 0
    skopeo(
        "copy",
        image_a.ref,
        _ref(stack, f"{granted}/app:build-3"),
        creds=(robot["name"], new_secret),
    )


# --- quotas ----------------------------------------------------------------------------------


def _quota(stack: Instance, project_id: int) -> dict:
    with stack.client() as api:
        (quota,) = api.get("/api/v2.0/quotas", params={"reference_id": project_id}).json()
    return quota


def _set_limit(stack: Instance, quota_id: int, hard: int) -> None:
    with stack.client() as api:
        response = api.put(f"/api/v2.0/quotas/{quota_id}", json={"hard": {"storage": hard}})
    assert response.status_code == 200, response.text


def test_quota_refuses_the_push_over_the_limit_and_deletes_release(stack, suffix, image_a, image_b):
    project = f"quota{suffix}"
    with stack.client() as api:
        created = api.post(
            "/api/v2.0/projects", json={"project_name": project, "storage_limit": 10_000_000}
        )
    project_id = int(created.headers["Location"].rsplit("/", 1)[1])
    skopeo("copy", image_a.ref, _ref(stack, f"{project}/a:v1"), creds=ADMIN)
    quota = _quota(stack, project_id)
    used = quota["used"]["storage"]
    assert quota["hard"]["storage"] == 10_000_000 and 20_000 < used < 40_000
    # The same image elsewhere in the project shares every blob: it adds nothing.
    skopeo("copy", image_a.ref, _ref(stack, f"{project}/copy:v1"), creds=ADMIN)
    assert _quota(stack, project_id)["used"]["storage"] == used
    _set_limit(stack, quota["id"], used + 50_000)
    refused = skopeo("copy", image_b.ref, _ref(stack, f"{project}/b:v1"), check=False, creds=ADMIN)
    assert refused.returncode != 0
    assert "Quota exceeded when processing the request of adding" in refused.stderr
    assert _quota(stack, project_id)["used"]["storage"] == used
    with stack.client() as api:
        # Nothing of the refused push was recorded, not even its repository.
        assert api.get(f"/api/v2.0/projects/{project}/repositories/b").status_code == 404
        delete = api.delete(f"/api/v2.0/projects/{project}/repositories/copy")
        assert delete.status_code == 200
        assert _quota(stack, project_id)["used"]["storage"] == used  # a still holds the blobs
        assert api.delete(f"/api/v2.0/projects/{project}/repositories/a").status_code == 200
    assert _quota(stack, project_id)["used"]["storage"] == 0
    _set_limit(stack, quota["id"], 1_000_000)
    skopeo("copy", image_b.ref, _ref(stack, f"{project}/b:v1"), creds=ADMIN)  # room again


def test_concurrent_pushes_keep_usage_exact_and_under_the_limit(stack, suffix, tmp_path):
    project = f"race{suffix}"
    project_id = stack.create_project(project)
    images = [make_image(tmp_path / f"i{i}", layer_sizes=[30_000]) for i in range(6)]
    quota = _quota(stack, project_id)
    _set_limit(stack, quota["id"], 3 * 32_000)  # room for three of them

    def push(i: int) -> int:
        ref = _ref(stack, f"{project}/img{i}:v1")
        return skopeo("copy", images[i].ref, ref, creds=ADMIN, check=False).returncode

    with ThreadPoolExecutor(max_workers=6) as pool:
        codes = list(pool.map(push, range(6)))
    assert codes.count(0) == 3, codes
    used = _quota(stack, project_id)["used"]["storage"]
    assert 3 * 30_000 < used <= 3 * 32_000
    drift = stack.manage("quota_recalculate", "--project", project)
    assert "0 project(s) corrected" in drift.stdout, drift.stdout


# --- immutability ----------------------------------------------------------------------------


def test_immutable_tags_through_the_registry_and_the_api(stack, suffix, image_a, image_b):
    project = f"imm{suffix}"
    stack.create_project(project)
    skopeo("copy", image_a.ref, _ref(stack, f"{project}/app:v1"), creds=ADMIN)
    original = _digest(stack, f"{project}/app:v1")
    selectors = {
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }
    with stack.client() as api:
        created = api.post(f"/api/v2.0/projects/{project}/immutabletagrules", json=selectors)
        assert created.status_code == 201, created.text
    moved = skopeo("copy", image_b.ref, _ref(stack, f"{project}/app:v1"), check=False, creds=ADMIN)
    assert moved.returncode != 0 and "configured as immutable" in moved.stderr, moved.stderr
    assert _digest(stack, f"{project}/app:v1") == original
    deleted = skopeo("delete", _ref(stack, f"{project}/app:v1"), creds=ADMIN, check=False)
    assert deleted.returncode != 0 and "immutable" in deleted.stderr, deleted.stderr
    # Allowed: the same digest again, a new protected tag, and moving an unprotected one.
    skopeo("copy", image_a.ref, _ref(stack, f"{project}/app:v1"), creds=ADMIN)
    skopeo("copy", image_b.ref, _ref(stack, f"{project}/app:v2"), creds=ADMIN)
    skopeo("copy", image_a.ref, _ref(stack, f"{project}/app:dev"), creds=ADMIN)
    skopeo("copy", image_b.ref, _ref(stack, f"{project}/app:dev"), creds=ADMIN)
    base = f"/api/v2.0/projects/{project}/repositories/app/artifacts"
    with stack.client() as api:
        refused = api.delete(f"{base}/{original}/tags/v1")
        assert refused.status_code == 412
        assert refused.json()["errors"][0]["code"] == "PRECONDITION"
        artifacts = api.get(base, params={"with_tag": "true"}).json()
        flags = {t["name"]: t["immutable"] for a in artifacts for t in a["tags"]}
        assert flags == {"v1": True, "v2": True, "dev": False}
        # Disabling the rule lifts the protection.
        rule_id = created.headers["Location"].rsplit("/", 1)[1]
        rules = f"/api/v2.0/projects/{project}/immutabletagrules/{rule_id}"
        assert api.put(rules, json={"disabled": True}).status_code == 200
        assert api.delete(f"{base}/{original}/tags/v1").status_code == 200
