"""The LDAP settings in /configurations and the directory tools under /api/v2.0/ldap/."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import User, UserGroup
from audit.models import AuditLog
from harbor_py.models import ConfigEntry
from tests.contract import assert_matches
from tests.integration.conftest import PASSWORD, assert_harbor_error, basic
from tests.integration.contract_helpers import check
from tests.integration.ldap_fixtures import *  # noqa: F403
from tests.ldap_server import SERVICE_PASSWORD, free_port

PING = "/api/v2.0/ldap/ping"
USERS = "/api/v2.0/ldap/users/search"
IMPORT = "/api/v2.0/ldap/users/import"
GROUPS = "/api/v2.0/ldap/groups/search"
CONFIG = "/api/v2.0/configurations"
GROUP_BASE = "ou=groups,dc=example,dc=org"


@pytest.fixture
def api(admin, client_for):
    return client_for(admin)


# -- settings -------------------------------------------------------------------------------


def test_every_harbor_ldap_key_is_a_setting(api, openldap):
    values = openldap.harbor_settings()
    assert check("updateConfigurations", api.put(CONFIG, values, format="json"), 200) is None
    shown = api.get(CONFIG).json()
    for key, value in values.items():
        if key != "ldap_search_password":
            assert shown[key]["value"] == value, key
    assert "ldap_search_password" not in shown
    stored = ConfigEntry.objects.get(key="ldap_search_password").value
    assert SERVICE_PASSWORD not in stored and stored.startswith("enc:v1:")
    audit = AuditLog.objects.filter(resource_type="configuration").latest("pk")
    assert "ldap_search_password=***" in audit.description
    assert SERVICE_PASSWORD not in audit.description


def test_a_bad_ldap_url_is_refused(api):
    error = assert_harbor_error(api.put(CONFIG, {"ldap_url": "http://x"}, format="json"), 400)
    assert "ldap_url" in error["message"]


def test_switching_to_ldap_is_refused_once_users_exist(api, make_user, openldap):
    make_user("someone")
    values = {"auth_mode": "ldap_auth", **openldap.harbor_settings()}
    assert_harbor_error(api.put(CONFIG, values, format="json"), 400)


# -- ping -----------------------------------------------------------------------------------


def test_ping_the_saved_settings(ldap_mode, api):
    body = check("pingLdap", api.post(PING, format="json"), 200)
    assert body["success"] is True
    assert "search base dc=example,dc=org found" in body["message"]


def test_ping_settings_given_in_the_body(api, openldap, ad):
    body = check("pingLdap", api.post(PING, ad.harbor_settings(), format="json"), 200)
    assert body["success"] is True, body
    assert ad.url in body["message"]


@pytest.mark.parametrize(
    ("overrides", "stage", "words"),
    [
        ({"ldap_url": "ldap://127.0.0.1:{dead}"}, "connect", "cannot reach any LDAP server"),
        ({"ldap_search_password": "wrong"}, "bind", "refused the search DN"),
        ({"ldap_search_dn": "cn=nobody,dc=example,dc=org"}, "bind", "refused the search DN"),
        ({"ldap_base_dn": "ou=missing,dc=example,dc=org"}, "search", "does not exist"),
        ({"ldap_filter": "(objectClass=inetOrgPerson"}, "search", "invalid search filter"),
    ],
)
def test_ping_says_what_failed(ldap_mode, api, overrides, stage, words):
    conf = {
        k: v.format(dead=free_port()) if isinstance(v, str) else v for k, v in overrides.items()
    }
    body = check("pingLdap", api.post(PING, conf, format="json"), 200)
    assert body["success"] is False
    assert body["message"].startswith(f"{stage}: "), body
    assert words in body["message"]


def test_ping_keeps_the_saved_password_when_none_is_given(ldap_mode, api, openldap):
    conf = {"ldap_url": openldap.url, "ldap_search_dn": openldap.service_dn}
    assert api.post(PING, {**conf, "ldap_search_password": ""}, format="json").json()["success"]


def test_ping_with_failover_and_timeout(ldap_mode, api, openldap, blackhole):
    conf = {"ldap_url": f"{blackhole} {openldap.url}", "ldap_connection_timeout": 1}
    body = api.post(PING, conf, format="json").json()
    assert body["success"] is True and openldap.url in body["message"]
    body = api.post(PING, {"ldap_url": blackhole, "ldap_connection_timeout": 1}, format="json")
    assert "no answer within 1s" in body.json()["message"]


def test_ping_an_ldaps_server(ldap_mode, api, openldap_tls):
    conf = {"ldap_url": openldap_tls.ldaps_url, "ldap_verify_cert": False}
    assert api.post(PING, conf, format="json").json()["success"] is True
    conf["ldap_verify_cert"] = True
    body = api.post(PING, conf, format="json").json()
    assert body["success"] is False
    assert "TLS handshake failed" in body["message"]


def test_ping_refuses_malformed_settings(ldap_mode, api):
    assert_harbor_error(api.post(PING, {"ldap_url": "http://x"}, format="json"), 400)
    assert_harbor_error(api.post(PING, {"ldap_scope": 7}, format="json"), 400)


# -- users ----------------------------------------------------------------------------------


def test_search_users(ldap_mode, api):
    body = check("searchLdapUser", api.get(USERS, {"username": "ali"}), 200)
    assert body == [
        {"username": "alice", "realname": "Alice Liddell", "email": "alice@example.org"}
    ]
    everyone = check("searchLdapUser", api.get(USERS), 200)
    assert {"alice", "bob", "busy", "twin"} <= {u["username"] for u in everyone}


def test_search_users_escapes_the_name(ldap_mode, api):
    assert check("searchLdapUser", api.get(USERS, {"username": "*)(uid=*"}), 200) == []


def test_import_users(ldap_mode, api):
    response = api.post(IMPORT, {"ldap_uid_list": ["alice", "bob"]}, format="json")
    assert check("importLdapUser", response, 200) is None
    alice = User.objects.get(username="alice")
    assert alice.email == "alice@example.org" and not alice.has_usable_password()
    assert AuditLog.objects.filter(resource="alice", operation="create", username="admin").exists()


def test_import_reports_the_users_that_failed(ldap_mode, api):
    api.post(IMPORT, {"ldap_uid_list": ["bob"]}, format="json")
    response = api.post(
        IMPORT, {"ldap_uid_list": ["alice", "nobody", "bob", "twin", " ", "*"]}, format="json"
    )
    assert_matches("importLdapUser", response, 404)
    assert response.json() == [
        {"uid": "nobody", "error": "unknown_user"},
        {"uid": "bob", "error": "duplicate_user"},
        {"uid": "twin", "error": "ambiguous_user"},
        {"uid": " ", "error": "empty_uid"},
        {"uid": "*", "error": "unknown_user"},
    ]
    assert User.objects.filter(username="alice").exists()


def test_import_needs_a_list(ldap_mode, api):
    assert_harbor_error(api.post(IMPORT, {"ldap_uid_list": []}, format="json"), 400)
    assert_harbor_error(api.post(IMPORT, {}, format="json"), 400)


def test_an_unreachable_directory_is_503_for_the_tools(openldap, use_directory, api):
    use_directory(openldap, ldap_url=f"ldap://127.0.0.1:{free_port()}")
    error = assert_harbor_error(api.get(USERS, {"username": "a"}), 503, "SERVICE_UNAVAILABLE")
    assert "LDAP connect: cannot reach any LDAP server" in error["message"]


# -- groups ---------------------------------------------------------------------------------


def test_search_groups_by_name(ldap_mode, api):
    body = check("searchLdapGroup", api.get(GROUPS, {"groupname": "team0"}), 200)
    assert len(body) == 9
    assert body[0] == {
        "group_name": "team01",
        "group_type": 1,
        "ldap_group_dn": f"cn=team01,{GROUP_BASE}",
    }


def test_search_groups_by_dn(ldap_mode, api):
    body = check("searchLdapGroup", api.get(GROUPS, {"groupdn": f"CN=qa, {GROUP_BASE}"}), 200)
    assert body == [{"group_name": "qa", "group_type": 1, "ldap_group_dn": f"cn=qa,{GROUP_BASE}"}]
    missing = api.get(GROUPS, {"groupdn": f"cn=missing,{GROUP_BASE}"})
    assert check("searchLdapGroup", missing, 200) == []
    not_a_group = api.get(GROUPS, {"groupdn": "uid=alice,ou=people,dc=example,dc=org"})
    assert check("searchLdapGroup", not_a_group, 200) == []


def test_search_groups_needs_a_name_or_a_valid_dn(ldap_mode, api):
    assert_harbor_error(api.get(GROUPS), 400)
    assert_harbor_error(api.get(GROUPS, {"groupdn": "not a dn"}), 400)


def test_ldap_user_groups_are_checked_in_the_directory(ldap_mode, api):
    url = "/api/v2.0/usergroups"
    created = api.post(
        url, {"group_type": 1, "ldap_group_dn": f"cn=qa,{GROUP_BASE}"}, format="json"
    )
    assert created.status_code == 201, created.content
    group = UserGroup.objects.get()
    assert (group.group_name, group.ldap_group_dn) == ("qa", f"cn=qa,{GROUP_BASE}")
    missing = {"group_type": 1, "group_name": "x", "ldap_group_dn": f"cn=nope,{GROUP_BASE}"}
    error = assert_harbor_error(api.post(url, missing, format="json"), 400)
    assert "not found" in error["message"]
    duplicate = {"group_type": 1, "group_name": "again", "ldap_group_dn": f"cn=QA,{GROUP_BASE}"}
    assert_harbor_error(api.post(url, duplicate, format="json"), 409)


# -- who may -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"), [("post", PING), ("get", USERS), ("post", IMPORT), ("get", GROUPS)]
)
def test_sysadmins_only(ldap_mode, anon_client, method, url):
    assert_harbor_error(getattr(anon_client, method)(url, format="json"), 401)
    bob = APIClient()  # a directory user
    bob.credentials(HTTP_AUTHORIZATION=basic("bob", "BobPass1"))
    assert_harbor_error(getattr(bob, method)(url, format="json"), 403)


def test_the_admin_signs_in_locally_for_the_tools(ldap_mode, client_for, admin):
    assert client_for(admin, PASSWORD).post(PING, format="json").status_code == 200


# -- project members named by directory names ------------------------------------------------


def test_a_project_member_group_is_onboarded_from_its_dn(ldap_mode, api, make_project):
    make_project("ldapmembers")
    url = "/api/v2.0/projects/ldapmembers/members"
    body = {"role_id": 2, "member_group": {"ldap_group_dn": f"cn=developers,{GROUP_BASE}"}}
    assert api.post(url, body, format="json").status_code == 201
    group = UserGroup.objects.get()
    assert (group.group_name, group.ldap_group_dn) == ("developers", f"cn=developers,{GROUP_BASE}")
    missing = {"role_id": 2, "member_group": {"ldap_group_dn": f"cn=nope,{GROUP_BASE}"}}
    assert_harbor_error(api.post(url, missing, format="json"), 404)


def test_a_project_member_user_is_onboarded_from_the_directory(ldap_mode, api, make_project):
    make_project("ldapmembers2")
    url = "/api/v2.0/projects/ldapmembers2/members"
    body = {"role_id": 3, "member_user": {"username": "bob"}}
    assert api.post(url, body, format="json").status_code == 201
    assert User.objects.get(username="bob").comment == "from LDAP."
    missing = {"role_id": 3, "member_user": {"username": "nobody"}}
    assert_harbor_error(api.post(url, missing, format="json"), 404)
