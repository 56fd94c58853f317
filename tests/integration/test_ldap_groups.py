"""Directory groups: resolution (nested included), mapping onto LDAP user groups, project
roles through them, and the sysadmin role of ldap_group_admin_dn."""

from __future__ import annotations

import statistics
import time

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts import ldap_groups
from accounts.ldap_client import Directory
from accounts.ldap_settings import current
from accounts.models import User, UserGroup
from audit.models import AuditLog
from projects.models import ProjectMember
from projects.roles import Role
from tests.integration.conftest import basic
from tests.integration.ldap_fixtures import *  # noqa: F403
from tests.run_cache import clear_run_cache
from tests.stack import jwt_claims

GROUPS = "ou=groups,dc=example,dc=org"
PEOPLE = "ou=people,dc=example,dc=org"
CURRENT = "/api/v2.0/users/current"


def dn(cn: str) -> str:
    return f"cn={cn},{GROUPS}"


def api(username: str, password: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(username, password))
    return client


def token(username: str, password: str, *scopes: str) -> dict:
    query = "&".join(["service=harbor-registry", *(f"scope={s}" for s in scopes)])
    response = APIClient().get(
        f"/service/token?{query}", HTTP_AUTHORIZATION=basic(username, password)
    )
    assert response.status_code == 200, response.content
    return jwt_claims(response.json()["token"])


def resolved(username: str) -> set[str]:
    with Directory.open(current()) as directory:
        return ldap_groups.resolve(directory, directory.find_users(username)[0])


def ldap_group(cn: str, base: str = GROUPS) -> UserGroup:
    return UserGroup.objects.create(group_name=cn, ldap_group_dn=f"cn={cn},{base}".lower())


def forget_logins() -> None:
    """What the credential cache TTL does: the next login asks the directory again."""
    client = cache._cache.get_client(write=True)
    for key in client.scan_iter(match="*ldapcred:*"):
        client.delete(key)


# -- resolution -----------------------------------------------------------------------------


def test_memberof_and_nested_groups(ldap_mode):
    assert resolved("alice") == {dn("developers"), dn("platform"), dn("everyone")}


def test_unique_member_and_member_uid_groups(ldap_mode):
    assert resolved("bob") == {dn("qa"), dn("ops")}


def test_fifty_groups(ldap_mode):
    assert resolved("busy") == {dn(f"team{i:02d}") for i in range(1, 51)}


def test_the_membership_attribute_alone(openldap, use_directory, admin):
    use_directory(openldap, ldap_group_search_filter="(objectClass=nothingMatches)")
    assert resolved("alice") == {dn("developers")}


def test_group_searches_alone(openldap, use_directory, admin):
    use_directory(openldap, ldap_group_membership_attribute="")
    assert resolved("alice") == {dn("developers"), dn("platform"), dn("everyone")}


def test_nesting_depth_is_bounded(ldap_mode, monkeypatch):
    monkeypatch.setattr(ldap_groups, "MAX_DEPTH", 1)
    assert resolved("alice") == {dn("developers"), dn("platform")}


def test_active_directory_shape(ad, use_directory, admin):
    use_directory(ad)
    base = "ou=groups,dc=corp,dc=example"
    assert resolved("aanders") == {f"cn=developers,{base}", f"cn=eng,{base}"}


def test_active_directory_nesting_uses_the_in_chain_rule(ad, use_directory, admin, monkeypatch):
    use_directory(ad)
    monkeypatch.setattr(Directory, "is_active_directory", lambda self: True)
    seen: list[str] = []
    original = Directory.search

    def spy(self, base, scope, filterstr, attrs, **kwargs):
        seen.append(filterstr)
        return original(self, base, scope, filterstr, attrs, **kwargs)

    monkeypatch.setattr(Directory, "search", spy)
    groups = resolved("aanders")
    user_dn = "cn=Alice Anders,ou=Users,dc=corp,dc=example"
    assert seen[-1] == f"(&(objectClass=groupOfNames)(member:1.2.840.113556.1.4.1941:={user_dn}))"
    assert "cn=developers,ou=groups,dc=corp,dc=example" in groups  # from memberOf


def test_filter_values_are_escaped():
    clause = ldap_groups.member_clause(["cn=a*(b),dc=x"], "u*")
    assert (
        clause == "(|(member=cn=a\\2a\\28b\\29,dc=x)(uniqueMember=cn=a\\2a\\28b\\29,dc=x)"
        "(memberUid=u\\2a))"
    )


# -- mapping onto user groups ---------------------------------------------------------------


def test_login_links_the_user_groups_that_exist_and_creates_none(ldap_mode):
    developers, platform = ldap_group("developers"), ldap_group("platform")
    ldap_group("qa")
    api("alice", "AlicePass1").get(CURRENT)
    alice = User.objects.get(username="alice")
    assert set(alice.user_groups.all()) == {developers, platform}
    assert UserGroup.objects.count() == 3
    log = AuditLog.objects.filter(resource="alice", description__startswith="LDAP groups")
    assert log.get().description == "LDAP groups +developers +platform"


def test_group_dns_are_compared_in_canonical_form(ldap_mode):
    group = UserGroup.objects.create(group_name="dev", ldap_group_dn=f"cn=developers, {GROUPS}")
    from accounts.selectors import normalize_dn

    group.ldap_group_dn = normalize_dn(group.ldap_group_dn)
    group.save()
    api("alice", "AlicePass1").get(CURRENT)
    assert list(User.objects.get(username="alice").user_groups.all()) == [group]


def test_leaving_a_group_in_the_directory_unlinks_it(ldap_mode, openldap):
    developers = ldap_group("developers")
    api("alice", "AlicePass1").get(CURRENT)
    alice = User.objects.get(username="alice")
    assert list(alice.user_groups.all()) == [developers]
    alice_dn = f"uid=alice,{PEOPLE}"
    openldap.ldapmodify(
        f"dn: {dn('developers')}\nchangetype: modify\nadd: member\n"
        f"member: uid=bob,{PEOPLE}\n-\ndelete: member\nmember: {alice_dn}\n"
    )
    try:
        api("alice", "AlicePass1").get(CURRENT)
        assert list(alice.user_groups.all()) == [developers]  # cached for a while
        clear_run_cache()  # both TTLs passed
        api("alice", "AlicePass1").get(CURRENT)
        assert list(alice.user_groups.all()) == []
    finally:
        openldap.ldapmodify(
            f"dn: {dn('developers')}\nchangetype: modify\nadd: member\n"
            f"member: {alice_dn}\n-\ndelete: member\nmember: uid=bob,{PEOPLE}\n"
        )


def test_a_project_role_given_to_a_group_reaches_its_members(ldap_mode, make_project):
    project = make_project("ldapproj")
    group = ldap_group("platform")  # alice is in it through developers
    ProjectMember.objects.create(project=project, group=group, role=Role.DEVELOPER)
    claims = token("alice", "AlicePass1", "repository:ldapproj/app:pull,push,delete")
    assert claims["access"] == [
        {"type": "repository", "name": "ldapproj/app", "actions": ["pull", "push"]}
    ]
    denied = token("bob", "BobPass1", "repository:ldapproj/app:pull,push")
    assert denied["access"] == []


def test_the_group_cache_spares_the_group_searches(ldap_mode, monkeypatch, connections):
    calls = []
    original = ldap_groups.resolve
    monkeypatch.setattr(ldap_groups, "resolve", lambda d, u: calls.append(u) or original(d, u))
    token("busy", "BusyPass1")
    forget_logins()
    token("busy", "BusyPass1")
    assert len(connections) == 2
    assert len(calls) == 1


def test_token_latency_for_a_user_in_fifty_groups(ldap_mode, make_project):
    for i in range(1, 51):
        group = ldap_group(f"team{i:02d}")
        project = make_project(f"team{i:02d}")
        ProjectMember.objects.create(project=project, group=group, role=Role.DEVELOPER)
    started = time.perf_counter()
    claims = token("busy", "BusyPass1", "repository:team07/app:pull,push")
    cold = time.perf_counter() - started
    assert claims["access"][0]["actions"] == ["pull", "push"]
    assert User.objects.get(username="busy").user_groups.count() == 50
    warm = []
    for _ in range(20):
        started = time.perf_counter()
        token("busy", "BusyPass1", "repository:team07/app:pull,push")
        warm.append(time.perf_counter() - started)
    assert statistics.median(warm) < 0.05, (cold, warm)


# -- the sysadmin role of ldap_group_admin_dn -----------------------------------------------


@pytest.fixture
def admin_group(openldap, use_directory, admin) -> None:
    use_directory(openldap, ldap_group_admin_dn=dn("harbor-admins"))


def test_admin_group_members_are_sysadmins_for_their_login(admin_group):
    carol = api("carol", "CarolPass1")
    body = carol.get(CURRENT).json()
    assert body["sysadmin_flag"] is False
    assert body["admin_role_in_auth"] is True
    assert carol.get("/api/v2.0/configurations").status_code == 200
    assert User.objects.get(username="carol").is_superuser is False
    claims = token("carol", "CarolPass1", "registry:catalog:*")
    assert claims["access"] == [{"type": "registry", "name": "catalog", "actions": ["*"]}]
    assert api("bob", "BobPass1").get("/api/v2.0/configurations").status_code == 403


def test_admin_group_through_nesting(openldap, use_directory, admin):
    use_directory(openldap, ldap_group_admin_dn=dn("everyone").upper())
    assert api("alice", "AlicePass1").get(CURRENT).json()["admin_role_in_auth"] is True


def test_the_role_ends_with_the_membership(admin_group, openldap, use_directory):
    assert api("carol", "CarolPass1").get("/api/v2.0/configurations").status_code == 200
    use_directory(openldap, ldap_group_admin_dn=dn("qa"))
    assert api("carol", "CarolPass1").get("/api/v2.0/configurations").status_code == 403


def test_a_granted_role_is_never_saved(admin_group):
    api("carol", "CarolPass1").get(CURRENT)
    carol = User.objects.get(username="carol")
    carol.grant_admin_role()
    carol.realname = "Carol"
    carol.save()
    carol.refresh_from_db()
    assert carol.is_superuser is False and carol.realname == "Carol"


def test_a_sysadmin_flag_set_by_hand_stays(admin_group, openldap, use_directory):
    api("bob", "BobPass1").get(CURRENT)
    User.objects.filter(username="bob").update(is_superuser=True)
    body = api("bob", "BobPass1").get(CURRENT).json()
    assert body["sysadmin_flag"] is True and body["admin_role_in_auth"] is False


def test_a_ui_session_keeps_the_role_of_its_login(admin_group, openldap, use_directory):
    session = APIClient()
    assert session.login(username="carol", password="CarolPass1")
    assert session.get("/api/v2.0/configurations").status_code == 200
    assert session.get(CURRENT).json()["admin_role_in_auth"] is True
    use_directory(openldap, ldap_group_admin_dn=dn("qa"))  # other settings: role gone
    assert session.get("/api/v2.0/configurations").status_code == 403
