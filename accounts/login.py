"""One entry point for checking a username and password, with login throttling.

After MAX_FAILURES failed attempts for one username from one client address within
WINDOW_SECONDS, further attempts are refused without checking the password until the
window passes. Keyed on (username, address) so that an attacker elsewhere cannot lock a
user out everywhere.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from accounts.credentials import check_local_credentials
from accounts.models import User

MAX_FAILURES = 10
WINDOW_SECONDS = 300


class LoginThrottled(Exception):
    pass


def _key(username: str, address: str) -> str:
    return "loginfail:" + hashlib.sha256(f"{username}\x00{address}".encode()).hexdigest()


def authenticate_credentials(username: str, password: str, *, address: str = "") -> User | None:
    key = _key(username, address)
    failures = cache.get(key, 0)
    if failures >= MAX_FAILURES:
        raise LoginThrottled(f"too many failed logins; try again in {WINDOW_SECONDS // 60} minutes")
    user = check_local_credentials(username, password)
    if user is None:
        if cache.add(key, 1, timeout=WINDOW_SECONDS) is False:
            try:
                cache.incr(key)
            except ValueError:
                cache.set(key, 1, timeout=WINDOW_SECONDS)
        return None
    if failures:
        cache.delete(key)
    return user
