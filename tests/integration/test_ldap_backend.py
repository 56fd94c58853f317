"""django-auth-ldap carries directory logins (accounts.ldap_login), with its settings built
from the run-time configuration at each login, against a real slapd."""

from __future__ import annotations

from django_auth_ldap.backend import LDAPBackend
from rest_framework.test import APIClient

from accounts.ldap_login import DirectoryLogin
from tests.integration.conftest import basic
from tests.integration.ldap_fixtures import *  # noqa: F403

CURRENT = "/api/v2.0/users/current"


def signed_in(username: str, password: str) -> int:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(username, password))
    return client.get(CURRENT).status_code


def spy_on_backend(monkeypatch) -> list[tuple[LDAPBackend, str]]:
    calls: list[tuple[LDAPBackend, str]] = []
    original = LDAPBackend.authenticate_ldap_user

    def spy(self, ldap_user, password):
        calls.append((self, ldap_user._username))
        return original(self, ldap_user, password)

    monkeypatch.setattr(LDAPBackend, "authenticate_ldap_user", spy)
    return calls


def test_django_auth_ldap_carries_the_login(ldap_mode, monkeypatch):
    calls = spy_on_backend(monkeypatch)
    assert signed_in("alice", "AlicePass1") == 200
    assert signed_in("alice", "wrong") == 401
    assert [name for _, name in calls] == ["alice", "alice"]
    assert all(isinstance(backend, DirectoryLogin) for backend, _ in calls)


def test_its_settings_come_from_the_runtime_configuration(
    openldap, use_directory, admin, monkeypatch
):
    calls = spy_on_backend(monkeypatch)
    use_directory(openldap, ldap_filter="objectClass=person", ldap_uid="uid")
    assert signed_in("alice", "AlicePass1") == 200
    settings = calls[-1][0].settings
    assert openldap.service_dn == settings.BIND_DN
    assert settings.USER_SEARCH.base_dn == openldap.base_dn
    assert settings.USER_SEARCH.filterstr == "(&(objectClass=person)(uid=%(user)s))"
    assert settings.MIRROR_GROUPS is None and settings.USER_FLAGS_BY_GROUP == {}


def test_a_percent_sign_in_the_user_filter_is_taken_literally(openldap, use_directory, admin):
    """django-auth-ldap fills the name in with Python's % operator: the filter's own % must
    not be read as a placeholder."""
    use_directory(openldap, ldap_filter="(&(objectClass=inetOrgPerson)(!(description=100%)))")
    assert signed_in("alice", "AlicePass1") == 200
    assert signed_in("alice", "wrong") == 401
