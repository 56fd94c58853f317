"""Administration pages: users, groups, system configuration with the LDAP test, the
audit log; sysadmins only."""

from __future__ import annotations

import pytest
from django.test import Client

from accounts.models import User, UserGroup
from harbor_py.core import configuration
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.mark.parametrize(
    "page", ["/admin/users", "/admin/groups", "/admin/configuration", "/admin/audit"]
)
def test_admin_pages_are_for_sysadmins_only(make_user, admin, page):
    assert signed(make_user("alice")).get(page).status_code == 403
    assert signed(admin).get(page).status_code == 200


def test_create_user_with_errors_then_success(admin):
    client = signed(admin)
    weak = client.post(
        "/admin/users", {"username": "bob", "email": "bob@example.com", "password": "short"}
    )
    assert weak.status_code == 400 and "A password needs 8-128" in weak.content.decode()
    bad_email = client.post(
        "/admin/users", {"username": "bob", "email": "x", "password": "Abcdefg1"}
    )
    assert "Enter a valid email address." in bad_email.content.decode()
    client.post(
        "/admin/users", {"username": "bob", "email": "bob@example.com", "password": "Abcdefg12"}
    )
    bob = User.objects.get(username="bob")
    assert bob.check_password("Abcdefg12")
    client.post(f"/admin/users/{bob.pk}/sysadmin", {"sysadmin": "true"})
    bob.refresh_from_db()
    assert bob.is_superuser
    client.post(f"/admin/users/{bob.pk}/password", {"new_password": "Newpass123"})
    bob.refresh_from_db()
    assert bob.check_password("Newpass123")
    assert "Delete user bob?" in client.get(f"/admin/users/{bob.pk}/delete").content.decode()
    client.post(f"/admin/users/{bob.pk}/delete")
    bob.refresh_from_db()
    assert not bob.is_active
    assert "bob" not in client.get("/admin/users?q=bob").content.decode().split("<tbody>")[1]


def test_own_password_change(make_user):
    alice = make_user("alice")
    client = signed(alice)
    wrong = client.post(
        "/account/password",
        {"old_password": "x", "new_password": "Newpass123", "confirm_password": "Newpass123"},
    )
    assert "The current password is incorrect." in wrong.content.decode()
    mismatch = client.post(
        "/account/password",
        {"old_password": PASSWORD, "new_password": "Newpass123", "confirm_password": "Other123"},
    )
    assert "The two passwords do not match." in mismatch.content.decode()
    done = client.post(
        "/account/password",
        {"old_password": PASSWORD, "new_password": "Newpass123", "confirm_password": "Newpass123"},
    )
    assert "Your password has been changed." in done.content.decode()
    alice.refresh_from_db()
    assert alice.check_password("Newpass123")
    assert client.get("/projects/").status_code == 200  # still signed in


def test_groups_create_and_delete(admin):
    client = signed(admin)
    missing_dn = client.post("/admin/groups", {"group_name": "devs", "group_type": 1})
    assert missing_dn.status_code == 400
    assert "An LDAP group needs its DN" in missing_dn.content.decode()
    client.post("/admin/groups", {"group_name": "web", "group_type": 2})
    group = UserGroup.objects.get(group_name="web")
    client.post(f"/admin/groups/{group.pk}/delete")
    assert not UserGroup.objects.filter(pk=group.pk).exists()


def _config_form(**changes):
    values = {k: v for k, v in configuration.snapshot().items() if v is not None}
    values.update(changes)
    form = {k: ("on" if v is True else v) for k, v in values.items() if v is not False}
    # The default quota is a number and a unit (SizeWidget).
    form["storage_per_project_0"], form["storage_per_project_1"] = (
        form.pop("storage_per_project"),
        "B",
    )
    return form


def test_system_configuration_saves_and_refuses(admin, make_user):
    client = signed(admin)
    client.post("/admin/configuration", _config_form(token_expiration=45))
    assert configuration.get("token_expiration") == 45
    bad = client.post("/admin/configuration", _config_form(token_expiration=0))
    assert bad.status_code == 400
    make_user("someone")
    refused = client.post("/admin/configuration", _config_form(auth_mode="ldap_auth"))
    assert "The authentication mode cannot change once users other than admin exist." in (
        refused.content.decode()
    )
    assert configuration.get("auth_mode") == "db_auth"
    configuration.store({"token_expiration": 30})


def test_ldap_connection_test_reports_the_failing_step(admin):
    response = signed(admin).post(
        "/admin/configuration",
        _config_form(
            ldap_url="ldap://127.0.0.1:1", ldap_base_dn="dc=example,dc=com", test_ldap="1"
        ),
    )
    body = response.content.decode()
    assert "Connection failed" in body
    assert configuration.get("ldap_url") == ""  # a test saves nothing


def test_audit_log_filters(admin, make_user, make_project):
    make_project("alpha", owner=admin)
    make_user("zed")
    client = signed(admin)
    client.post(
        "/admin/users", {"username": "carol", "email": "c@example.com", "password": "Abcdefg12"}
    )
    body = client.get("/admin/audit?resource_type=user&operation=create").content.decode()
    assert "carol" in body
    none = client.get("/admin/audit?resource=carol&from=2000-01-01&to=2000-01-02").content.decode()
    assert "No entries." in none
