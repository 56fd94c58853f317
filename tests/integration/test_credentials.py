"""accounts.credentials and accounts.login: password checks, their cache, and throttling."""

from __future__ import annotations

import pytest
from django.core.cache import cache

from accounts import login
from accounts.credentials import check_local_credentials
from accounts.login import MAX_FAILURES, LoginThrottled, authenticate_credentials
from accounts.models import User
from harbor_py.core import configuration
from tests.integration.conftest import PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture
def count_checks(monkeypatch) -> list[str]:
    """Record every real password check (User.check_password) made."""
    calls: list[str] = []
    original = User.check_password

    def counting(self, raw_password):
        calls.append(self.username)
        return original(self, raw_password)

    monkeypatch.setattr(User, "check_password", counting)
    return calls


def test_correct_password_returns_the_user(make_user):
    alice = make_user("alice")
    assert check_local_credentials("alice", PASSWORD) == alice
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice


@pytest.mark.parametrize(
    ("username", "password"),
    [
        ("alice", "wrong-Passw0rd"),
        ("alice", PASSWORD.lower()),
        ("alice", PASSWORD + " "),
        ("alice", ""),
        ("", PASSWORD),
        ("ALICE", PASSWORD),
        ("nobody", PASSWORD),
        ("alice", PASSWORD + "x" * 1100),
    ],
)
def test_wrong_credentials_return_none(make_user, username, password):
    make_user("alice")
    assert check_local_credentials(username, password) is None
    assert authenticate_credentials(username, password, address="10.0.0.1") is None


def test_second_correct_check_is_served_from_the_cache(make_user, count_checks):
    alice = make_user("alice")
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.2") == alice
    assert count_checks == ["alice"]


def test_failed_checks_are_not_cached(make_user, count_checks):
    make_user("alice")
    assert check_local_credentials("alice", "wrong-Passw0rd") is None
    assert check_local_credentials("alice", "wrong-Passw0rd") is None
    assert count_checks == ["alice", "alice"]


def test_cached_success_does_not_accept_another_password(make_user, count_checks):
    make_user("alice")
    assert check_local_credentials("alice", PASSWORD) is not None
    assert check_local_credentials("alice", "Other-Passw0rd") is None
    assert len(count_checks) == 2


def test_cached_success_does_not_extend_to_another_user_with_same_password(make_user):
    make_user("alice")
    bob = make_user("bob", password="Bob-Passw0rd")
    assert check_local_credentials("alice", PASSWORD) is not None
    assert check_local_credentials("bob", PASSWORD) is None
    assert check_local_credentials("bob", "Bob-Passw0rd") == bob


def test_cache_holds_no_password_material(make_user):
    make_user("alice")
    assert check_local_credentials("alice", PASSWORD) is not None
    keys = list(cache._cache.get_client().scan_iter("*"))  # the real Redis keys
    assert keys, "the successful check was not cached"
    for key in keys:
        assert PASSWORD.encode() not in key
        assert b"alice" not in key
    for value in cache._cache.get_client().mget(keys):
        assert PASSWORD.encode() not in (value or b"")  # None: a key of another run, gone
        assert b"alice" not in (value or b"")


def test_cached_success_is_bound_to_the_account_not_the_name(make_user, count_checks):
    """A new account under the same name and password is checked afresh."""
    make_user("alice").delete()
    alice = make_user("alice")
    assert check_local_credentials("alice", PASSWORD) == alice
    User.objects.filter(pk=alice.pk).delete()
    again = make_user("alice")
    assert check_local_credentials("alice", PASSWORD) == again
    assert count_checks == ["alice", "alice"]


def test_a_remembered_login_is_one_redis_round_trip(make_user, count_checks, redis_commands):
    """Throttle count, recorded success, remembered check and the settings: one MGET."""
    alice = make_user("alice")
    with configuration.per_request():
        assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice
    redis_commands.clear()
    with configuration.per_request():
        assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice
        assert configuration.get("auth_mode") == "db_auth"
    assert redis_commands == ["MGET"]
    assert count_checks == ["alice"]


def test_password_change_invalidates_the_cached_check(make_user, count_checks):
    alice = make_user("alice")
    assert check_local_credentials("alice", PASSWORD) == alice
    assert check_local_credentials("alice", PASSWORD) == alice
    assert len(count_checks) == 1  # the old password is now cached

    alice.set_password("New-Passw0rd")
    alice.save()
    assert check_local_credentials("alice", PASSWORD) is None
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") is None
    assert check_local_credentials("alice", "New-Passw0rd") == alice


def test_deactivated_user_is_refused_even_when_cached(make_user):
    alice = make_user("alice")
    assert check_local_credentials("alice", PASSWORD) == alice
    alice.is_active = False
    alice.save()
    assert check_local_credentials("alice", PASSWORD) is None
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") is None


def test_inactive_user_is_refused(make_user):
    make_user("carol", active=False)
    assert check_local_credentials("carol", PASSWORD) is None


def test_throttled_after_max_failures_from_one_address(make_user, count_checks):
    alice = make_user("alice")
    assert MAX_FAILURES == 10
    for _ in range(10):
        assert authenticate_credentials("alice", "wrong", address="10.0.0.1") is None
    checks_before = len(count_checks)
    with pytest.raises(LoginThrottled):
        authenticate_credentials("alice", PASSWORD, address="10.0.0.1")
    assert len(count_checks) == checks_before  # refused without checking the password
    with pytest.raises(LoginThrottled):
        authenticate_credentials("alice", "wrong", address="10.0.0.1")
    # Another address, or another user from the same address, is not affected.
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.2") == alice
    bob = make_user("bob")
    assert authenticate_credentials("bob", PASSWORD, address="10.0.0.1") == bob


def test_nine_failures_do_not_throttle(make_user):
    alice = make_user("alice")
    for _ in range(9):
        assert authenticate_credentials("alice", "wrong", address="10.0.0.1") is None
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice


def test_success_resets_the_failure_count(make_user):
    alice = make_user("alice")
    for _ in range(9):
        authenticate_credentials("alice", "wrong", address="10.0.0.1")
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice
    for _ in range(9):
        authenticate_credentials("alice", "wrong", address="10.0.0.1")
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice


def test_unknown_usernames_are_throttled_too(db):
    for _ in range(10):
        assert authenticate_credentials("ghost", "wrong", address="10.0.0.1") is None
    with pytest.raises(LoginThrottled):
        authenticate_credentials("ghost", "wrong", address="10.0.0.1")


def test_failure_counter_expires_with_the_window(make_user):
    """The counter is stored with the window as its timeout."""
    alice = make_user("alice")
    authenticate_credentials("alice", "wrong", address="10.0.0.1")
    key = login._key("alice", "10.0.0.1")
    assert cache.get(key) == 1
    ttl = cache._cache.get_client().ttl(cache.make_and_validate_key(key))
    assert 0 < ttl <= login.WINDOW_SECONDS
    cache.delete(key)  # as if the window passed
    assert authenticate_credentials("alice", PASSWORD, address="10.0.0.1") == alice
