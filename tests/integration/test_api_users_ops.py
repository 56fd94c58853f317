"""The user group: /users (q=, sort=), /users/current, /users/search, /users/{user_id},
its sysadmin flag and password, against Harbor's contract."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from accounts.models import User
from audit.models import AuditLog
from harbor_py.core import configuration
from projects.models import ProjectMember
from projects.roles import Role
from tests.integration.conftest import PASSWORD, basic
from tests.integration.contract_helpers import check

pytestmark = pytest.mark.django_db

URL = "/api/v2.0/users"


@pytest.fixture
def ldap_mode():
    configuration.store({"auth_mode": "ldap_auth"})
    yield
    cache.delete(configuration.CACHE_KEY)


def signed_in(user: User) -> APIClient:
    """A UI session. Under LDAP only `admin` signs in with a local password; a session
    stands for a user that signed in through the directory."""
    client = APIClient()
    client.force_login(user)
    return client


def usernames(response) -> list[str]:
    return [u["username"] for u in check("listUsers", response, 200)]


# --- list and create ------------------------------------------------------------------------


def test_list_users_matches_contract(admin, make_user, client_for, anon_client):
    make_user("alice")
    body = check("listUsers", client_for(admin).get(URL), 200)
    assert [u["username"] for u in body] == ["admin", "alice"]
    check("listUsers", anon_client.get(URL), 401, "UNAUTHORIZED")
    check("listUsers", client_for(make_user()).get(URL), 403, "FORBIDDEN")


def test_list_q_and_sort(admin, make_user, client_for):
    for name in ("carol", "alice", "bob"):
        make_user(name)
    client = client_for(admin)
    assert usernames(client.get(URL, {"q": "username=~o"})) == ["carol", "bob"]
    assert usernames(client.get(URL, {"q": "username=alice"})) == ["alice"]
    assert usernames(client.get(URL, {"q": "email=~bob@"})) == ["bob"]
    assert usernames(client.get(URL, {"q": "sysadmin_flag=true"})) == ["admin"]
    assert usernames(client.get(URL, {"sort": "username"})) == ["admin", "alice", "bob", "carol"]
    assert usernames(client.get(URL, {"sort": "-username"}))[0] == "carol"
    assert usernames(client.get(URL, {"username": "AL"})) == ["alice"]
    assert usernames(client.get(URL, {"email": "carol"})) == ["carol"]
    pk = User.objects.get(username="bob").pk
    assert usernames(client.get(URL, {"q": f"user_id=[{pk}~]", "sort": "user_id"})) == ["bob"]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "username"},
        {"q": "password=x"},
        {"q": "user_id=abc"},
        {"q": "sysadmin_flag=~t"},
        {"sort": "password"},
        {"page": 0},
    ],
)
def test_list_bad_parameters_are_400(admin, client_for, params):
    check("listUsers", client_for(admin).get(URL, params), 400, "BAD_REQUEST")


def test_list_query_count_does_not_grow(admin, client_for, django_assert_max_num_queries):
    client = client_for(admin)
    client.get(URL)
    with django_assert_max_num_queries(5) as small:
        client.get(URL, {"page_size": 100})
    User.objects.bulk_create(User(username=f"bulk{i}", email=f"b{i}@x.io") for i in range(60))
    with django_assert_max_num_queries(len(small.captured_queries)):
        assert len(client.get(URL, {"page_size": 100}).json()) == 61


def test_create_user_matches_contract(admin, make_user, client_for, anon_client):
    body = {"username": "newbie", "email": "n@example.com", "password": "Newbie1234"}
    client = client_for(admin)
    check("createUser", client.post(URL, body, format="json"), 201)
    check("createUser", client.post(URL, body, format="json"), 409, "CONFLICT")
    check("createUser", client.post(URL, {**body, "password": "weak"}, format="json"), 400)
    check("createUser", anon_client.post(URL, body, format="json"), 401)
    check("createUser", client_for(make_user()).post(URL, body, format="json"), 403)


def test_create_user_refused_under_ldap(admin, client_for, ldap_mode):
    body = {"username": "newbie", "email": "n@example.com", "password": "Newbie1234"}
    check("createUser", client_for(admin).post(URL, body, format="json"), 403, "FORBIDDEN")
    assert not User.objects.filter(username="newbie").exists()


def test_long_usernames_fit(admin, client_for):
    name = "u" * 255
    body = {"username": name, "email": "long@example.com", "password": "Newbie1234"}
    check("createUser", client_for(admin).post(URL, body, format="json"), 201)
    assert User.objects.filter(username=name).exists()


# --- current and search ---------------------------------------------------------------------


def test_current_user(make_user, client_for, anon_client):
    alice = make_user("alice")
    body = check("getCurrentUserInfo", client_for(alice).get(f"{URL}/current"), 200)
    assert body["user_id"] == alice.pk
    assert body["username"] == "alice"
    assert body["sysadmin_flag"] is False
    assert body["admin_role_in_auth"] is False
    check("getCurrentUserInfo", anon_client.get(f"{URL}/current"), 401, "UNAUTHORIZED")


def test_search_users(admin, make_user, client_for, anon_client):
    alice = make_user("alice")
    make_user("malik")
    make_user("bob")
    make_user("alien", active=False)
    client = client_for(alice)
    body = check("searchUsers", client.get(f"{URL}/search", {"username": "li"}), 200)
    assert body == [
        {"user_id": alice.pk, "username": "alice"},
        {"user_id": User.objects.get(username="malik").pk, "username": "malik"},
    ]
    paged = client.get(f"{URL}/search", {"username": "li", "page_size": 1, "page": 2})
    assert [u["username"] for u in check("searchUsers", paged, 200)] == ["malik"]
    assert paged["X-Total-Count"] == "2"
    check("searchUsers", client.get(f"{URL}/search"), 400, "BAD_REQUEST")
    check("searchUsers", client.get(f"{URL}/search", {"username": "a", "page": 0}), 400)
    check("searchUsers", anon_client.get(f"{URL}/search", {"username": "a"}), 401)


def test_search_query_count_does_not_grow(make_user, client_for, django_assert_max_num_queries):
    client = client_for(make_user("seeker"))
    client.get(f"{URL}/search", {"username": "bulk"})
    with django_assert_max_num_queries(5) as small:
        client.get(f"{URL}/search", {"username": "bulk", "page_size": 100})
    User.objects.bulk_create(User(username=f"bulk{i}", email=f"b{i}@x.io") for i in range(60))
    with django_assert_max_num_queries(len(small.captured_queries)):
        response = client.get(f"{URL}/search", {"username": "bulk", "page_size": 100})
        assert len(response.json()) == 60


# --- get, update, delete -------------------------------------------------------------------------


def test_get_user(admin, make_user, client_for, anon_client):
    alice, bob = make_user("alice"), make_user("bob")
    body = check("getUser", client_for(alice).get(f"{URL}/{alice.pk}"), 200)
    assert body["email"] == "alice@example.com"
    check("getUser", client_for(admin).get(f"{URL}/{bob.pk}"), 200)
    check("getUser", client_for(alice).get(f"{URL}/{bob.pk}"), 403, "FORBIDDEN")
    check("getUser", client_for(alice).get(f"{URL}/999999"), 403, "FORBIDDEN")
    check("getUser", client_for(admin).get(f"{URL}/999999"), 404, "NOT_FOUND")
    check("getUser", anon_client.get(f"{URL}/{alice.pk}"), 401, "UNAUTHORIZED")


def test_update_own_profile(make_user, client_for):
    alice = make_user("alice")
    profile = {"email": "a2@example.com", "realname": "Alice A", "comment": "hi"}
    check(
        "updateUserProfile", client_for(alice).put(f"{URL}/{alice.pk}", profile, format="json"), 200
    )
    alice.refresh_from_db()
    assert (alice.email, alice.realname, alice.comment) == ("a2@example.com", "Alice A", "hi")
    assert AuditLog.objects.filter(
        operation="update", resource_type="user", resource="alice"
    ).exists()


def test_sysadmin_updates_any_profile(admin, make_user, client_for):
    bob = make_user("bob")
    profile = {"email": "b2@example.com", "realname": "Bob"}
    check(
        "updateUserProfile", client_for(admin).put(f"{URL}/{bob.pk}", profile, format="json"), 200
    )
    bob.refresh_from_db()
    assert bob.email == "b2@example.com"


@pytest.mark.parametrize(
    "profile",
    [
        {"email": "", "realname": "A"},
        {"email": "not-an-email", "realname": "A"},
        {"email": "a@example.com", "realname": ""},
        {"email": "a@example.com", "realname": "a,b"},
        {"email": "a@example.com", "realname": "x" * 256},
        {"email": "a@example.com", "realname": "A", "comment": "c" * 1025},
    ],
)
def test_bad_profile_is_400(make_user, client_for, profile):
    alice = make_user("alice")
    response = client_for(alice).put(f"{URL}/{alice.pk}", profile, format="json")
    check("updateUserProfile", response, 400, "BAD_REQUEST")
    alice.refresh_from_db()
    assert alice.email == "alice@example.com"


def test_profile_email_taken_is_409(make_user, client_for):
    alice, _ = make_user("alice"), make_user("bob")
    profile = {"email": "BOB@example.com", "realname": "Alice"}
    response = client_for(alice).put(f"{URL}/{alice.pk}", profile, format="json")
    assert response.status_code == 409
    check(
        "updateUserProfile",
        client_for(alice).put(
            f"{URL}/{alice.pk}", {"email": "ALICE@example.com", "realname": "A"}, format="json"
        ),
        200,
    )


def test_update_others_profile_is_403(make_user, client_for, anon_client):
    alice, bob = make_user("alice"), make_user("bob")
    profile = {"email": "x@example.com", "realname": "X"}
    check(
        "updateUserProfile", client_for(alice).put(f"{URL}/{bob.pk}", profile, format="json"), 403
    )
    check("updateUserProfile", anon_client.put(f"{URL}/{bob.pk}", profile, format="json"), 401)
    bob.refresh_from_db()
    assert bob.email == "bob@example.com"


def test_profile_under_ldap_only_for_admin(admin, make_user, client_for, ldap_mode):
    alice = make_user("alice")
    profile = {"email": "x@example.com", "realname": "X"}
    check(
        "updateUserProfile", signed_in(alice).put(f"{URL}/{alice.pk}", profile, format="json"), 403
    )
    check(
        "updateUserProfile", client_for(admin).put(f"{URL}/{alice.pk}", profile, format="json"), 403
    )
    check(
        "updateUserProfile", client_for(admin).put(f"{URL}/{admin.pk}", profile, format="json"), 200
    )


def test_delete_user(admin, make_user, make_project, client_for):
    alice = make_user("alice")
    project = make_project("demo", members={alice: Role.DEVELOPER})
    check("deleteUser", client_for(admin).delete(f"{URL}/{alice.pk}"), 200)
    alice.refresh_from_db()
    assert not alice.is_active
    assert alice.username == f"alice#{alice.pk}"
    assert alice.email == f"alice@example.com#{alice.pk}"
    assert not ProjectMember.objects.filter(project=project, user=alice).exists()
    assert AuditLog.objects.filter(
        operation="delete", resource_type="user", resource="alice"
    ).exists()
    # gone for the API, and the name and email are free again
    check("getUser", client_for(admin).get(f"{URL}/{alice.pk}"), 404)
    assert "alice" not in usernames(client_for(admin).get(URL))
    body = {"username": "alice", "email": "alice@example.com", "password": "Alice12345"}
    check("createUser", client_for(admin).post(URL, body, format="json"), 201)
    check("deleteUser", client_for(admin).delete(f"{URL}/{alice.pk}"), 404, "NOT_FOUND")


def test_deleted_user_cannot_log_in(admin, make_user, client_for):
    alice = make_user("alice")
    assert client_for(alice).get(f"{URL}/current").status_code == 200
    client_for(admin).delete(f"{URL}/{alice.pk}")
    check("getCurrentUserInfo", client_for(alice).get(f"{URL}/current"), 401)


def test_deleting_a_project_owner_keeps_the_project(admin, make_user, make_project, client_for):
    alice = make_user("alice")
    make_project("demo", owner=alice)
    check("deleteUser", client_for(admin).delete(f"{URL}/{alice.pk}"), 200)
    body = check("getProject", client_for(admin).get("/api/v2.0/projects/demo"), 200)
    assert body["owner_id"] == alice.pk


def test_delete_refusals(admin, make_user, client_for, anon_client):
    root, alice = make_user("root", sysadmin=True), make_user("alice")
    check("deleteUser", client_for(root).delete(f"{URL}/{root.pk}"), 403, "FORBIDDEN")
    check("deleteUser", client_for(root).delete(f"{URL}/{admin.pk}"), 403, "FORBIDDEN")
    check("deleteUser", client_for(alice).delete(f"{URL}/{root.pk}"), 403, "FORBIDDEN")
    check("deleteUser", client_for(alice).delete(f"{URL}/{alice.pk}"), 403, "FORBIDDEN")
    check("deleteUser", anon_client.delete(f"{URL}/{alice.pk}"), 401, "UNAUTHORIZED")
    check("deleteUser", client_for(root).delete(f"{URL}/999999"), 404, "NOT_FOUND")
    assert User.objects.filter(is_active=True).count() == 3


# --- sysadmin flag -----------------------------------------------------------------------------


def test_set_sysadmin(admin, make_user, client_for):
    alice = make_user("alice")
    client = client_for(admin)
    url = f"{URL}/{alice.pk}/sysadmin"
    check("setUserSysAdmin", client.put(url, {"sysadmin_flag": True}, format="json"), 200)
    alice.refresh_from_db()
    assert alice.is_superuser
    check("listUsers", client_for(alice).get(URL), 200)  # now a sysadmin
    check("setUserSysAdmin", client.put(url, {"sysadmin_flag": False}, format="json"), 200)
    alice.refresh_from_db()
    assert not alice.is_superuser
    assert AuditLog.objects.filter(resource_type="user", operation="update").count() == 2


def test_set_sysadmin_refusals(admin, make_user, client_for, anon_client):
    root, alice = make_user("root", sysadmin=True), make_user("alice")
    body = {"sysadmin_flag": False}
    check(
        "setUserSysAdmin",
        client_for(root).put(f"{URL}/{admin.pk}/sysadmin", body, format="json"),
        403,
    )
    admin.refresh_from_db()
    assert admin.is_superuser
    promote = {"sysadmin_flag": True}
    check(
        "setUserSysAdmin",
        client_for(alice).put(f"{URL}/{alice.pk}/sysadmin", promote, format="json"),
        403,
    )
    check(
        "setUserSysAdmin",
        anon_client.put(f"{URL}/{alice.pk}/sysadmin", promote, format="json"),
        401,
    )
    check(
        "setUserSysAdmin",
        client_for(root).put(f"{URL}/999999/sysadmin", promote, format="json"),
        404,
    )
    response = client_for(root).put(f"{URL}/{alice.pk}/sysadmin", {}, format="json")
    assert response.status_code == 400
    alice.refresh_from_db()
    assert not alice.is_superuser


# --- password ----------------------------------------------------------------------------------


def test_change_own_password(make_user, client_for):
    alice = make_user("alice")
    old = client_for(alice)
    assert old.get(f"{URL}/current").status_code == 200  # cached credential
    body = {"old_password": PASSWORD, "new_password": "Changed123"}
    check("updateUserPassword", old.put(f"{URL}/{alice.pk}/password", body, format="json"), 200)
    # the cached credential died with the old hash
    check("getCurrentUserInfo", client_for(alice).get(f"{URL}/current"), 401)
    check("getCurrentUserInfo", client_for(alice, "Changed123").get(f"{URL}/current"), 200)
    assert AuditLog.objects.filter(resource_type="user", description="password").exists()
    token = client_for(alice).get("/service/token", HTTP_AUTHORIZATION=basic("alice", PASSWORD))
    assert token.status_code == 401


def test_wrong_old_password_is_403(make_user, client_for):
    alice = make_user("alice")
    url = f"{URL}/{alice.pk}/password"
    body = {"old_password": "Wrong1234", "new_password": "Changed123"}
    check("updateUserPassword", client_for(alice).put(url, body, format="json"), 403)
    check(
        "updateUserPassword",
        client_for(alice).put(url, {"new_password": "Changed123"}, format="json"),
        403,
    )
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_sysadmin_resets_password_without_old_one(admin, make_user, client_for):
    alice = make_user("alice")
    body = {"new_password": "Reset12345"}
    check(
        "updateUserPassword",
        client_for(admin).put(f"{URL}/{alice.pk}/password", body, format="json"),
        200,
    )
    alice.refresh_from_db()
    assert alice.check_password("Reset12345")


def test_sysadmin_needs_old_password_for_own(admin, client_for):
    body = {"new_password": "Reset12345"}
    check(
        "updateUserPassword",
        client_for(admin).put(f"{URL}/{admin.pk}/password", body, format="json"),
        403,
    )


@pytest.mark.parametrize("new", ["short1A", "nouppercase1", "NoDigits", "", PASSWORD])
def test_bad_new_password_is_400(make_user, client_for, new):
    alice = make_user("alice")
    body = {"old_password": PASSWORD, "new_password": new}
    response = client_for(alice).put(f"{URL}/{alice.pk}/password", body, format="json")
    check("updateUserPassword", response, 400, "BAD_REQUEST")
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_password_of_others_is_403(make_user, client_for, anon_client):
    alice, bob = make_user("alice"), make_user("bob")
    body = {"old_password": PASSWORD, "new_password": "Changed123"}
    check(
        "updateUserPassword",
        client_for(alice).put(f"{URL}/{bob.pk}/password", body, format="json"),
        403,
    )
    check(
        "updateUserPassword", anon_client.put(f"{URL}/{bob.pk}/password", body, format="json"), 401
    )
    bob.refresh_from_db()
    assert bob.check_password(PASSWORD)


def test_password_under_ldap(admin, make_user, client_for, ldap_mode):
    alice = make_user("alice")
    body = {"old_password": PASSWORD, "new_password": "Changed123"}
    check(
        "updateUserPassword",
        signed_in(alice).put(f"{URL}/{alice.pk}/password", body, format="json"),
        403,
    )
    check(
        "updateUserPassword",
        client_for(admin).put(f"{URL}/{admin.pk}/password", body, format="json"),
        200,
    )


def test_password_change_keeps_own_session_and_ends_the_others(make_user):
    alice = make_user("alice")
    this, other = APIClient(), APIClient()
    this.force_login(alice)
    other.force_login(alice)
    body = {"old_password": PASSWORD, "new_password": "Changed123"}
    check("updateUserPassword", this.put(f"{URL}/{alice.pk}/password", body, format="json"), 200)
    check("getCurrentUserInfo", this.get(f"{URL}/current"), 200)
    check("getCurrentUserInfo", other.get(f"{URL}/current"), 401, "UNAUTHORIZED")
