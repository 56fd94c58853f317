"""A whole instance under LDAP authentication, against a real slapd, with skopeo.

Its own instance: switching auth_mode is refused once users other than admin exist, and
the session `stack` is shared with tests that create local users.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.imagegen import make_image
from tests.ldap_server import LdapServer, running_slapd
from tests.stack import ADMIN_PASSWORD, Instance, jwt_claims, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
ALICE = ("alice", "AlicePass1")  # in cn=developers
BOB = ("bob", "BobPass1")  # not in it


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LdapServer]:
    with running_slapd(tmp_path_factory.mktemp("slapd")) as server:
        yield server


@pytest.fixture(scope="module")
def ldap_stack(
    tmp_path_factory: pytest.TempPathFactory, directory: LdapServer
) -> Iterator[Instance]:
    with running_instance(tmp_path_factory.mktemp("ldapstack")) as instance:
        with instance.client() as api:
            settings = {"auth_mode": "ldap_auth", **directory.harbor_settings()}
            api.put("/api/v2.0/configurations", json=settings).raise_for_status()
        yield instance


def test_push_and_pull_with_access_from_an_ldap_group(
    ldap_stack: Instance, directory: LdapServer, tmp_path: Path
) -> None:
    stack = ldap_stack
    with stack.client() as api:
        ping = api.post("/api/v2.0/ldap/ping", json={})
        assert ping.status_code == 200 and ping.json()["success"], ping.text
        group_dn = directory.dn("cn=developers,ou=groups")
        created = api.post(
            "/api/v2.0/usergroups", json={"group_type": 1, "ldap_group_dn": group_dn}
        )
        assert created.status_code == 201, created.text
        group_id = int(created.headers["Location"].rsplit("/", 1)[1])
        project = f"ldap{uuid.uuid4().hex[:8]}"
        stack.create_project(project)
        member = api.post(
            f"/api/v2.0/projects/{project}/members",
            json={"role_id": 2, "member_group": {"id": group_id}},
        )
        assert member.status_code == 201, member.text

    image = make_image(tmp_path / "src", layer_sizes=[4096, 2048])
    target = f"docker://{stack.host}/{project}/app:v1"
    skopeo("copy", image.ref, target, creds=ALICE)  # push, as a Developer through the group
    skopeo("copy", target, f"oci:{tmp_path / 'pulled'}:v1", creds=ALICE)  # pull
    inspected = skopeo("inspect", target, creds=ALICE)
    assert image.manifest_digest in inspected.stdout

    refused = skopeo(
        "copy", image.ref, f"docker://{stack.host}/{project}/app:bob", creds=BOB, check=False
    )
    assert refused.returncode != 0
    assert skopeo("inspect", target, creds=BOB, check=False).returncode != 0

    with stack.client() as api:
        users = {u["username"]: u for u in api.get("/api/v2.0/users").json()}
        assert users["alice"]["email"] == "alice@example.org"
        members = api.get(f"/api/v2.0/projects/{project}/members").json()
        assert {m["entity_name"] for m in members} == {"admin", "developers"}  # no direct alice


def test_skopeo_login_with_directory_credentials(ldap_stack: Instance, tmp_path: Path) -> None:
    def login(password: str) -> subprocess.CompletedProcess[str]:
        command = ["skopeo", "login", "--tls-verify=false", "--authfile", str(tmp_path / "a.json"),
                   "-u", "alice", "-p", password, ldap_stack.host]  # fmt: skip
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    assert login("AlicePass1").returncode == 0
    refused = login("WrongPass1")
    assert refused.returncode != 0
    assert "invalid username/password" in refused.stderr


def test_the_token_endpoint_refuses_a_wrong_directory_password(ldap_stack: Instance) -> None:
    stack = ldap_stack
    with stack.client(("alice", "WrongPass1")) as client:
        response = client.get("/service/token", params={"service": "harbor-registry"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
    with stack.client(ALICE) as client:
        response = client.get("/service/token", params={"service": "harbor-registry"})
    assert response.status_code == 200
    assert jwt_claims(response.json()["token"])["sub"] == "alice"


def test_the_local_admin_still_signs_in(ldap_stack: Instance) -> None:
    with ldap_stack.client(ADMIN) as api:
        assert api.get("/api/v2.0/users/current").json()["username"] == "admin"
