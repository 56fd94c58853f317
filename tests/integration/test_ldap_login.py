"""Directory logins against a real slapd: API Basic auth, /service/token, the Django backend."""

from __future__ import annotations

import time

import pytest
from django.contrib.auth import authenticate
from django.test import override_settings
from rest_framework.test import APIClient

from accounts.login import MAX_FAILURES
from accounts.login_errors import DirectoryUnavailable, LoginRefused
from accounts.models import User
from tests.integration.conftest import PASSWORD, assert_harbor_error, basic
from tests.integration.ldap_fixtures import *  # noqa: F403
from tests.ldap_server import free_port
from tests.run_cache import clear_run_cache

CURRENT = "/api/v2.0/users/current"
TOKEN = "/service/token?service=harbor-registry"


def api(username: str, password: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=basic(username, password))
    return client


def token(username: str, password: str):
    return APIClient().get(TOKEN, HTTP_AUTHORIZATION=basic(username, password))


def test_first_login_onboards_the_directory_user(ldap_mode):
    response = api("alice", "AlicePass1").get(CURRENT)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["username"] == "alice"
    assert body["email"] == "alice@example.org"
    assert body["realname"] == "Alice Liddell"
    assert body["sysadmin_flag"] is False
    user = User.objects.get(username="alice")
    assert user.comment == "from LDAP."
    assert not user.has_usable_password()


def test_the_token_endpoint_accepts_directory_credentials(ldap_mode):
    response = token("alice", "AlicePass1")
    assert response.status_code == 200, response.content
    assert response.json()["token"]


def test_the_name_is_matched_by_the_directory_and_stored_as_it_spells_it(ldap_mode):
    assert api("ALICE", "AlicePass1").get(CURRENT).json()["username"] == "alice"
    assert User.objects.filter(username__iexact="alice").count() == 1


def test_a_user_without_mail_gets_an_empty_email_and_the_cn_as_real_name(ldap_mode):
    body = api("erin", "ErinPass1").get(CURRENT).json()
    assert body["email"] == ""
    assert body["realname"] == "erin"


def test_later_logins_keep_email_and_name_in_step(ldap_mode):
    api("alice", "AlicePass1").get(CURRENT)
    User.objects.filter(username="alice").update(email="old@example.org", realname="Old")
    clear_run_cache()  # a login after the credential cache expired
    assert api("alice", "AlicePass1").get(CURRENT).json()["email"] == "alice@example.org"


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong"),
        ("nobody", "AlicePass1"),
        ("alice", ""),
        ("", "AlicePass1"),
        ("*", "AlicePass1"),
        ("*)(uid=*", "AlicePass1"),
        ("alice)(|(uid=*", "AlicePass1"),
        ("al*", "AlicePass1"),
        ("alice\\00", "AlicePass1"),
        ("twin", "TwinPass1"),  # two entries carry this uid
    ],
)
def test_bad_credentials_are_refused_without_saying_why(ldap_mode, username, password):
    response = api(username, password).get(CURRENT)
    error = assert_harbor_error(response, 401, "UNAUTHORIZED")
    assert error["message"].endswith("invalid username or password")
    refused = token(username, password)
    assert refused.status_code == 401
    assert refused.json()["errors"][0]["message"] == "invalid username or password"
    assert not User.objects.exclude(username="admin").exists()


def test_injection_in_the_name_is_escaped_in_the_filter(ldap_mode, connections, monkeypatch):
    from accounts import ldap_client

    seen: list[str] = []
    original = ldap_client.Directory.search

    def spy(self, base, scope, filterstr, attrs, **kwargs):
        seen.append(filterstr)
        return original(self, base, scope, filterstr, attrs, **kwargs)

    monkeypatch.setattr(ldap_client.Directory, "search", spy)
    assert api("*)(uid=*", "x").get(CURRENT).status_code == 401
    assert seen == ["(&(objectClass=inetOrgPerson)(uid=\\2a\\29\\28uid=\\2a))"]


def test_a_locked_account_is_refused_with_a_reason_once_the_password_is_right(ldap_mode):
    """dave carries ppolicy's pwdAccountLockedTime; this slapd does not enforce it, so the
    bind succeeds and Harbor has to refuse."""
    error = assert_harbor_error(api("dave", "DavePass1").get(CURRENT), 401)
    assert "locked in the directory" in error["message"]
    refused = token("dave", "DavePass1")
    assert refused.status_code == 401
    assert "locked" in refused.json()["errors"][0]["message"]
    wrong = assert_harbor_error(api("dave", "nope").get(CURRENT), 401)
    assert wrong["message"].endswith("invalid username or password")


def test_a_disabled_active_directory_account_is_refused(ad, use_directory, admin):
    use_directory(ad)
    assert api("aanders", "AlicePass1").get(CURRENT).json()["email"] == "aanders@corp.example"
    error = assert_harbor_error(api("ddisabled", "DanPass1").get(CURRENT), 401)
    assert "disabled in the directory" in error["message"]


def test_the_local_admin_keeps_its_local_password(ldap_mode, admin, connections):
    assert api("admin", PASSWORD).get(CURRENT).json()["username"] == "admin"
    assert connections == []
    assert api("Admin", PASSWORD).get(CURRENT).status_code == 401  # that name is a directory name


def test_other_local_users_cannot_sign_in_locally_under_ldap(ldap_mode, make_user):
    make_user("localonly")
    assert api("localonly", PASSWORD).get(CURRENT).status_code == 401


def test_a_directory_user_never_takes_over_a_local_account_of_the_same_name(ldap_mode, make_user):
    local = make_user("bob", sysadmin=True)  # e.g. created before switching to LDAP
    error = assert_harbor_error(api("bob", "BobPass1").get(CURRENT), 401)
    assert "belongs to a local Harbor account" in error["message"]
    local.refresh_from_db()
    assert local.has_usable_password() and local.is_superuser
    assert api("bob", PASSWORD).get(CURRENT).status_code == 401  # nor signs in locally


def test_a_directory_entry_named_admin_cannot_become_the_local_admin(
    openldap, use_directory, admin
):
    use_directory(openldap)
    openldap.ldapadd(
        "dn: uid=Admin,ou=contractors,dc=example,dc=org\nobjectClass: inetOrgPerson\n"
        "uid: Admin\ncn: Fake Admin\nsn: a\nuserPassword: FakePass1\n"
    )
    try:
        error = assert_harbor_error(api("Admin", "FakePass1").get(CURRENT), 401)
        assert "cannot sign in" in error["message"]
        assert User.objects.filter(username__iexact="admin").count() == 1
    finally:
        openldap.ldapdelete("uid=Admin,ou=contractors,dc=example,dc=org")


def test_an_unreachable_directory_is_a_clear_503(openldap, use_directory, admin):
    use_directory(openldap, ldap_url=f"ldap://127.0.0.1:{free_port()}")
    error = assert_harbor_error(api("alice", "AlicePass1").get(CURRENT), 503, "SERVICE_UNAVAILABLE")
    assert "cannot be reached" in error["message"]
    refused = token("alice", "AlicePass1")
    assert refused.status_code == 503
    assert "cannot be reached" in refused.json()["errors"][0]["message"]


def test_a_wrong_search_password_is_a_clear_503(openldap, use_directory, admin):
    use_directory(openldap, ldap_search_password="wrong")
    error = assert_harbor_error(api("alice", "AlicePass1").get(CURRENT), 503)
    assert "search account was refused" in error["message"]


def test_failover_to_the_next_url(openldap, use_directory, admin, connections):
    dead = f"ldap://127.0.0.1:{free_port()}"
    use_directory(openldap, ldap_url=f"{dead}, {openldap.url}")
    assert api("alice", "AlicePass1").get(CURRENT).status_code == 200
    assert connections == [openldap.url.rstrip("/")]


def test_failover_past_a_server_that_never_answers(openldap, use_directory, admin, blackhole):
    use_directory(openldap, ldap_url=f"{blackhole} {openldap.url}", ldap_timeout=1)
    started = time.monotonic()
    assert api("alice", "AlicePass1").get(CURRENT).status_code == 200
    assert time.monotonic() - started < 5


def test_directory_outages_do_not_count_towards_throttling(openldap, use_directory, admin):
    use_directory(openldap, ldap_url=f"ldap://127.0.0.1:{free_port()}")
    for _ in range(MAX_FAILURES + 1):
        assert api("alice", "AlicePass1").get(CURRENT).status_code == 503
    use_directory(openldap)
    assert api("alice", "AlicePass1").get(CURRENT).status_code == 200


def test_wrong_directory_passwords_are_throttled(ldap_mode):
    for _ in range(MAX_FAILURES):
        assert api("bob", "wrong").get(CURRENT).status_code == 401
    assert_harbor_error(api("bob", "BobPass1").get(CURRENT), 429)


def test_ldaps_without_certificate_verification(openldap_tls, use_directory, admin):
    use_directory(openldap_tls, ldap_url=openldap_tls.ldaps_url, ldap_verify_cert=False)
    assert api("alice", "AlicePass1").get(CURRENT).status_code == 200


def test_ldaps_with_an_untrusted_certificate_is_refused(openldap_tls, use_directory, admin):
    use_directory(openldap_tls, ldap_url=openldap_tls.ldaps_url, ldap_verify_cert=True)
    assert api("alice", "AlicePass1").get(CURRENT).status_code == 503


def test_settings_changes_apply_to_the_next_login(openldap, ad, use_directory, admin):
    use_directory(openldap)
    assert api("alice", "AlicePass1").get(CURRENT).status_code == 200
    use_directory(ad)  # no restart, no cache to flush
    assert api("alice", "AlicePass1").get(CURRENT).status_code == 401
    assert api("aanders", "AlicePass1").get(CURRENT).status_code == 200


# -- the credential cache -------------------------------------------------------------------


def test_repeated_logins_hit_the_credential_cache(ldap_mode, connections):
    for _ in range(5):
        assert token("alice", "AlicePass1").status_code == 200
    assert len(connections) == 1


def test_a_wrong_password_never_hits_the_cache(ldap_mode, connections):
    assert token("alice", "AlicePass1").status_code == 200
    assert token("alice", "AlicePass2").status_code == 401
    assert len(connections) == 2


def test_a_directory_password_change_applies_when_the_cached_login_expires(
    openldap, use_directory, admin, connections
):
    use_directory(openldap)
    dn = "uid=bob,ou=people,dc=example,dc=org"
    with override_settings(HARBOR={**_harbor(), "LDAP_CREDENTIAL_CACHE_SECONDS": 1}):
        assert token("bob", "BobPass1").status_code == 200
        openldap.set_password(dn, "BobPass2")
        try:
            assert token("bob", "BobPass1").status_code == 200  # cached: within the TTL
            time.sleep(1.2)
            assert token("bob", "BobPass1").status_code == 401
            assert token("bob", "BobPass2").status_code == 200
        finally:
            openldap.set_password(dn, "BobPass1")


def test_the_cache_is_keyed_by_settings(openldap, use_directory, admin, connections):
    use_directory(openldap)
    assert token("alice", "AlicePass1").status_code == 200
    use_directory(openldap, ldap_filter="(objectClass=person)")
    assert token("alice", "AlicePass1").status_code == 200
    assert len(connections) == 2


def test_a_deleted_user_is_not_let_in_by_the_cache(ldap_mode):
    assert token("alice", "AlicePass1").status_code == 200
    User.objects.filter(username="alice").update(is_active=False, username="alice#1")
    response = token("alice", "AlicePass1")  # the cache points at the deleted row: ask again
    assert response.status_code == 200
    assert User.objects.filter(username="alice", is_active=True).exists()


def _harbor() -> dict:
    from django.conf import settings

    return dict(settings.HARBOR)


# -- the Django backend (UI session login) --------------------------------------------------


def test_the_django_backend_signs_directory_users_in(ldap_mode):
    user = authenticate(None, username="alice", password="AlicePass1")
    assert user is not None and user.username == "alice"
    assert authenticate(None, username="alice", password="nope") is None


def test_the_django_backend_lets_refusals_through_for_the_login_view(ldap_mode):
    with pytest.raises(LoginRefused, match="locked"):
        authenticate(None, username="dave", password="DavePass1")


def test_the_django_backend_reports_an_unreachable_directory(openldap, use_directory, admin):
    use_directory(openldap, ldap_url=f"ldap://127.0.0.1:{free_port()}")
    with pytest.raises(DirectoryUnavailable):
        authenticate(None, username="alice", password="AlicePass1")


def test_a_ui_session_works_for_a_directory_user(ldap_mode):
    client = APIClient()
    assert client.login(username="alice", password="AlicePass1")
    assert client.get(CURRENT).json()["username"] == "alice"
