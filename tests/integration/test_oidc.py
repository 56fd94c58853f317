"""OIDC login (auth_mode oidc_auth) against a real OpenID provider: the npm oidc-provider
package (tests/oidc_op.py), one per module. The browser's part at the provider (login and
consent forms) is played over HTTP here; tests/e2e/test_oidc_browser.py drives it in
chromium and pushes with skopeo.

Each refusal the issue lists ends in a clear answer: a revoked grant, a wrong audience,
an expired ID token, a replayed state, a tampered nonce, a provider that is down."""

from __future__ import annotations

import time
from collections.abc import Iterator
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.test import Client

from accounts import credentials, oidc_services
from accounts.models import OIDCUserInfo, User, UserGroup
from audit.models import AuditLog
from harbor_py.core import configuration
from harbor_py.models import ConfigEntry
from projects.models import ProjectMember
from projects.roles import Role
from tests import oidc_op
from tests.contract import assert_matches
from tests.integration.conftest import PASSWORD, assert_harbor_error, basic
from tests.stack import jwt_claims

pytestmark = pytest.mark.django_db

CALLBACK = "http://testserver/c/oidc/callback"
USERS = {
    "alice": {"groups": ["developers", "harbor-admins"], "name": "Alice A"},
    "bob": {"groups": ["qa", "ignored-team"]},
    "carol": {"groups": []},
}


@pytest.fixture(scope="module")
def op() -> Iterator[oidc_op.OpenIdProvider]:
    if why := oidc_op.available():
        pytest.skip(why)
    with oidc_op.OpenIdProvider(users=USERS, redirect_uris=[CALLBACK]) as provider:
        yield provider


@pytest.fixture
def oidc(op, admin) -> oidc_op.OpenIdProvider:
    op.tamper({})
    op.down(False)
    configuration.store(op.harbor_settings(oidc_group_filter="^(developers|qa|harbor-admins)$"))
    return op


def begin(browser: Client) -> str:
    start = browser.get("/c/oidc/login?next=/projects")
    assert start.status_code == 302, start.content[:300]
    return start["Location"]


def sign_in(browser: Client, op: oidc_op.OpenIdProvider, username: str):
    """The whole code flow; the callback's response."""
    callback = op.sign_in(begin(browser), username)
    assert callback.startswith(CALLBACK), callback
    return browser.get(callback.removeprefix("http://testserver"))


def test_authorization_request_has_pkce_state_and_nonce(oidc):
    query = parse_qs(urlsplit(begin(Client())).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["state"][0] and query["nonce"][0]
    assert query["redirect_uri"] == [CALLBACK]
    assert query["scope"] == ["openid offline_access profile email groups"]


def test_sign_in_onboards_maps_groups_and_admin_group(oidc, make_project):
    browser = Client()
    done = sign_in(browser, oidc, "alice")
    assert done.status_code == 302 and done["Location"] == "/projects"
    user = User.objects.get(username="alice")
    assert user.email == "alice@example.test" and user.realname == "Alice A"
    assert not user.has_usable_password()
    assert sorted(user.user_groups.values_list("group_name", flat=True)) == [
        "developers",
        "harbor-admins",
    ]
    assert set(user.user_groups.values_list("group_type", flat=True)) == {UserGroup.GroupType.OIDC}
    assert not user.is_superuser  # the admin group's role is per sign-in, never stored
    me = browser.get("/api/v2.0/users/current")
    assert_matches("getCurrentUserInfo", me, 200)
    assert me.json()["admin_role_in_auth"] is True
    assert me.json()["oidc_user_meta"]["secret"]
    assert AuditLog.objects.filter(operation="login", resource="alice").exists()

    # The groups claim gives project membership through the OIDC group.
    bob_browser, carol_browser = Client(), Client()
    sign_in(bob_browser, oidc, "bob")
    sign_in(carol_browser, oidc, "carol")
    bob = User.objects.get(username="bob")
    assert sorted(bob.user_groups.values_list("group_name", flat=True)) == ["qa"]  # filtered
    assert bob_browser.get("/api/v2.0/users/current").json()["admin_role_in_auth"] is False
    project = make_project("oidc-members")
    group = UserGroup.objects.get(group_name="qa", group_type=UserGroup.GroupType.OIDC)
    ProjectMember.objects.create(project=project, group=group, role=Role.DEVELOPER)
    assert bob_browser.get(f"/api/v2.0/projects/{project.name}").status_code == 200
    assert carol_browser.get(f"/api/v2.0/projects/{project.name}").status_code in (403, 404)


def test_username_form_when_auto_onboard_is_off(oidc):
    configuration.store({"oidc_auto_onboard": False})
    browser = Client()
    answer = sign_in(browser, oidc, "carol")
    assert answer.status_code == 302 and answer["Location"] == "/c/oidc/onboard"
    form = browser.get("/c/oidc/onboard")
    assert b'value="carol"' in form.content
    taken = browser.post("/c/oidc/onboard", {"username": "admin"})
    assert taken.status_code == 400
    created = browser.post("/c/oidc/onboard", {"username": "carol-here"})
    assert created.status_code == 302
    assert OIDCUserInfo.objects.filter(user__username="carol-here").exists()


def test_cli_secret_logs_registry_clients_in_and_can_be_regenerated(oidc):
    browser = Client()
    sign_in(browser, oidc, "alice")
    user = User.objects.get(username="alice")
    stored = OIDCUserInfo.objects.get(user=user)
    assert stored.secret.startswith("enc:v1:") and stored.token.startswith("enc:v1:")
    secret = oidc_services.cli_secret(stored)
    token = Client().get("/service/token", HTTP_AUTHORIZATION=basic("alice", secret))
    assert token.status_code == 200 and token.json()["token"], token.content
    wrong = Client().get("/service/token", HTTP_AUTHORIZATION=basic("alice", secret + "x"))
    assert_harbor_error(wrong, 401, "UNAUTHORIZED")

    weak = browser.put(
        f"/api/v2.0/users/{user.pk}/cli_secret", {"secret": "short"}, "application/json"
    )
    assert_harbor_error(weak, 400, "BAD_REQUEST")
    changed = browser.put(
        f"/api/v2.0/users/{user.pk}/cli_secret", {"secret": "NewSecret123"}, "application/json"
    )
    assert changed.status_code == 200
    old = Client().get("/service/token", HTTP_AUTHORIZATION=basic("alice", secret))
    assert_harbor_error(old, 401, "UNAUTHORIZED")
    new = Client().get("/service/token", HTTP_AUTHORIZATION=basic("alice", "NewSecret123"))
    assert new.status_code == 200

    regenerated = browser.post("/account/cli-secret")
    assert regenerated.status_code == 302
    again = oidc_services.cli_secret(OIDCUserInfo.objects.get(user=user))
    assert again not in (secret, "NewSecret123")
    assert again in browser.get("/account/password").content.decode()


def test_cli_secret_of_someone_else_and_outside_oidc_mode(oidc, make_user, client_for):
    browser = Client()
    sign_in(browser, oidc, "bob")
    other = make_user()
    refused = browser.put(
        f"/api/v2.0/users/{other.pk}/cli_secret", {"secret": "NewSecret123"}, "application/json"
    )
    assert_harbor_error(refused, 403, "FORBIDDEN")
    configuration.store({"auth_mode": "db_auth"})
    bob = User.objects.get(username="bob")
    admin = User.objects.get(username="admin")
    outside = client_for(admin).put(
        f"/api/v2.0/users/{bob.pk}/cli_secret", {"secret": "NewSecret123"}, format="json"
    )
    assert_harbor_error(outside, 412, "PRECONDITION")


def test_revoked_grant_stops_the_cli_secret_within_the_check_time(oidc, settings, monkeypatch):
    monkeypatch.setitem(settings.HARBOR, "OIDC_TOKEN_CHECK_SECONDS", 1)
    sign_in(Client(), oidc, "bob")
    info = OIDCUserInfo.objects.get(user__username="bob")
    secret = oidc_services.cli_secret(info)
    first = Client().get("/service/token", HTTP_AUTHORIZATION=basic("bob", secret))
    assert first.status_code == 200
    refresh_token = oidc_services.opened_tokens(OIDCUserInfo.objects.get(pk=info.pk))
    oidc.revoke(refresh_token["refresh_token"])
    deadline = time.monotonic() + 10
    while True:
        answer = Client().get("/service/token", HTTP_AUTHORIZATION=basic("bob", secret))
        if answer.status_code != 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    error = assert_harbor_error(answer, 401, "UNAUTHORIZED")
    assert "no longer valid at the provider" in error["message"]
    # And it stays refused, without asking the provider again (the token is forgotten).
    assert OIDCUserInfo.objects.get(pk=info.pk).token == ""
    later = Client().get("/service/token", HTTP_AUTHORIZATION=basic("bob", secret))
    assert "sign in through the browser again" in assert_harbor_error(later, 401)["message"]


@pytest.mark.parametrize(
    ("claims", "reason"),
    [
        ({"aud": "someone-else"}, "aud"),
        ({"exp": 1_000_000_000, "iat": 999_990_000}, "exp"),
        ({"nonce": "not-the-one-we-sent"}, "nonce"),
    ],
    ids=["wrong-audience", "expired", "tampered-nonce"],
)
def test_id_tokens_that_do_not_verify_are_refused(oidc, claims, reason):
    oidc.tamper(claims)
    answer = sign_in(Client(), oidc, "alice")
    assert answer.status_code == 401
    text = answer.content.decode()
    assert "Sign-in refused" in text and "ID token is invalid" in text and reason in text
    assert not User.objects.filter(username="alice").exists()


def test_replayed_state_is_refused(oidc):
    browser = Client()
    callback = oidc.sign_in(begin(browser), "alice").removeprefix("http://testserver")
    assert browser.get(callback).status_code == 302
    replayed = browser.get(callback)
    assert replayed.status_code == 401
    # in the UI's words (#28: the catalogue's key oidc.state_unknown), not the service's
    assert "This sign-in has expired or was used already" in replayed.content.decode()
    forged = Client().get(callback)  # another browser: no flow waits in its session
    assert forged.status_code == 401


def test_key_rotation_is_followed(oidc):
    sign_in(Client(), oidc, "alice")  # caches the provider's keys
    kids = oidc.rotate()
    assert len(kids) >= 2
    answer = sign_in(Client(), oidc, "bob")  # signed with the new key
    assert answer.status_code == 302, answer.content[:300]


def test_provider_down_is_a_clear_refusal(oidc, settings, monkeypatch):
    monkeypatch.setitem(settings.HARBOR, "OIDC_TOKEN_CHECK_SECONDS", 1)
    sign_in(Client(), oidc, "alice")
    secret = oidc_services.cli_secret(OIDCUserInfo.objects.get(user__username="alice"))
    cache.delete(credentials.cache_key("alice", secret))  # the remembered check
    oidc.down(True)
    try:
        start = Client().get("/c/oidc/login")
        assert start.status_code == 503
        assert "The OIDC provider cannot be reached now" in start.content.decode()  # UI words
        token = Client().get("/service/token", HTTP_AUTHORIZATION=basic("alice", secret))
        error = assert_harbor_error(token, 503, "SERVICE_UNAVAILABLE")
        assert "OIDC provider is unavailable" in error["message"]
        # The local admin can always sign in.
        admin = Client().post("/c/login", {"principal": "admin", "password": PASSWORD})
        assert admin.status_code == 200
    finally:
        oidc.down(False)


def test_only_the_local_admin_signs_in_with_a_password(oidc):
    sign_in(Client(), oidc, "bob")
    refused = Client().post("/c/login", {"principal": "bob", "password": "whatever"})
    assert refused.status_code == 401
    page = Client().get("/account/sign-in")
    assert "Login via TestOP" in page.content.decode()
    admin = Client().post("/account/sign-in", {"principal": "admin", "password": PASSWORD})
    assert admin.status_code == 302


def test_ping_and_settings(oidc, client_for):
    api = client_for(User.objects.get(username="admin"))
    ok = api.post("/api/v2.0/system/oidc/ping", {"url": oidc.issuer}, format="json")
    assert ok.status_code == 200
    bad = api.post(
        "/api/v2.0/system/oidc/ping", {"url": "http://127.0.0.1:9/nothing"}, format="json"
    )
    assert "cannot be reached" in assert_harbor_error(bad, 400, "BAD_REQUEST")["message"]
    stored = ConfigEntry.objects.get(key="oidc_client_secret").value
    assert stored.startswith("enc:v1:") and oidc_op.CLIENT_SECRET not in stored
    shown = api.get("/api/v2.0/configurations").json()
    assert "oidc_client_secret" not in shown and shown["oidc_endpoint"]["value"] == oidc.issuer
    info = Client().get("/api/v2.0/systeminfo")
    assert_matches("getSystemInfo", info, 200)
    assert info.json()["oidc_provider_name"] == "TestOP"
    for bad in ({"oidc_group_filter": "("}, {"oidc_scope": "profile,email"}):
        refused = api.put("/api/v2.0/configurations", bad, format="json")
        assert_harbor_error(refused, 400, "BAD_REQUEST")


def test_configuration_page_has_the_oidc_section_and_its_ping(oidc):
    browser = Client()
    browser.force_login(User.objects.get(username="admin"))
    page = browser.get("/admin/configuration").content.decode()
    assert 'name="oidc_endpoint"' in page and "Test OIDC server" in page and CALLBACK in page
    form = {
        k: ("on" if v is True else v)
        for k, v in configuration.snapshot().items()
        if v is not False and v is not None
    }
    form["storage_per_project_0"], form["storage_per_project_1"] = (
        form.pop("storage_per_project"),
        "B",
    )
    ok = browser.post("/admin/configuration", {**form, "test_oidc": "1"})
    assert "Connection OK" in ok.content.decode()
    form["oidc_endpoint"] = "http://127.0.0.1:9"
    bad = browser.post("/admin/configuration", {**form, "test_oidc": "1"})
    assert "Connection failed" in bad.content.decode()
    assert configuration.get("oidc_endpoint") == oidc.issuer  # a test saves nothing


def test_sign_in_page_in_chinese(oidc):
    page = Client(HTTP_ACCEPT_LANGUAGE="zh-CN").get("/account/sign-in").content.decode()
    assert "通过 TestOP 登录" in page


def test_a_deleted_user_can_onboard_again(oidc, client_for):
    sign_in(Client(), oidc, "bob")
    bob = User.objects.get(username="bob")
    admin = client_for(User.objects.get(username="admin"))
    assert admin.delete(f"/api/v2.0/users/{bob.pk}").status_code == 200
    assert not OIDCUserInfo.objects.filter(user=bob).exists()
    again = sign_in(Client(), oidc, "bob")
    assert again.status_code == 302
    assert User.objects.get(username="bob", is_active=True).pk != bob.pk


def test_sign_out_ends_the_provider_session_when_asked(oidc):
    browser = Client()
    sign_in(browser, oidc, "bob")
    assert browser.post("/account/sign-out")["Location"] == "/account/sign-in"  # oidc_logout off
    configuration.store({"oidc_logout": True})
    sign_in(browser, oidc, "bob")
    page = browser.post("/account/sign-out")
    assert page.status_code == 200  # a page on our origin: the form-action CSP
    text = page.content.decode()
    assert f'content="0; url={oidc.issuer}/session/end?' in text and "id_token_hint=" in text
    assert browser.get("/api/v2.0/users/current").status_code == 401  # signed out here


def test_robot_accounts_are_unchanged_under_oidc(oidc, make_project, client_for):
    make_project("robots-here")
    admin = client_for(User.objects.get(username="admin"))
    body = {
        "name": "ci",
        "level": "project",
        "duration": -1,
        "permissions": [
            {
                "kind": "project",
                "namespace": "robots-here",
                "access": [{"resource": "repository", "action": "pull"}],
            }
        ],
    }
    created = admin.post("/api/v2.0/robots", body, format="json")
    assert created.status_code == 201, created.content
    robot = created.json()
    token = Client().get(
        "/service/token",
        {"service": "harbor-registry", "scope": "repository:robots-here/app:pull"},
        HTTP_AUTHORIZATION=basic(robot["name"], robot["secret"]),
    )
    assert token.status_code == 200
    claims = jwt_claims(token.json()["token"])
    assert claims["access"] == [
        {"type": "repository", "name": "robots-here/app", "actions": ["pull"]}
    ]


def test_the_cli_secret_check_brings_the_groups_of_the_provider(oidc):
    sign_in(Client(), oidc, "bob")
    secret = oidc_services.cli_secret(OIDCUserInfo.objects.get(user__username="bob"))
    oidc.set_users({"bob": {"groups": ["developers", "harbor-admins"]}})
    try:
        cache.delete(credentials.cache_key("bob", secret))  # the next check asks the provider
        token = Client().get("/service/token", HTTP_AUTHORIZATION=basic("bob", secret))
        assert token.status_code == 200
        bob = User.objects.get(username="bob")
        names = sorted(bob.user_groups.values_list("group_name", flat=True))
        assert names == ["developers", "harbor-admins"]
        assert OIDCUserInfo.objects.get(user=bob).admin_in_auth is True
        catalog = Client().get(
            "/service/token",
            {"service": "harbor-registry", "scope": "registry:catalog:*"},
            HTTP_AUTHORIZATION=basic("bob", secret),
        )
        assert jwt_claims(catalog.json()["token"])["access"]  # a sysadmin's scope
    finally:
        oidc.set_users({"bob": USERS["bob"]})


def test_ping_of_a_url_that_does_not_parse_is_a_400(admin, client_for):
    """Found by the fuzzer: httpx.InvalidURL is not an httpx.HTTPError (it was a 500)."""
    answer = client_for(admin).post(
        "/api/v2.0/system/oidc/ping", {"url": " \u0018\u001ez"}, format="json"
    )
    assert answer.status_code == 400, answer.content
    assert answer.json()["errors"][0]["code"] == "BAD_REQUEST"
