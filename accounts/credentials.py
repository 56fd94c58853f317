"""Verifying username/password pairs, with a short-lived cache of successful checks.

Every registry client process asks /service/token for a token with Basic credentials, and
a PBKDF2 check costs about 0.2 s, so verified pairs are remembered for a short time.
The cache key is an HMAC (keyed with SECRET_KEY) over the user id, the stored password
hash and the presented password: the cache never holds anything that reveals the
password, and changing the password (which changes the stored hash) or deactivating the
user invalidates every cached entry at once, because the user row is read on every call.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.cache import cache

from accounts.models import User
from harbor_py.core.db import fetch_one


def _cache_key(subject: str, stored_hash: str, password: str) -> str:
    material = f"{subject}\x00{stored_hash}\x00{password}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).hexdigest()
    return f"cred:{digest}"


def check_cached(
    *, subject: str, stored_hash: str, password: str, check: Callable[[str], bool] | None = None
) -> bool:
    """`check(password)` (default: against `stored_hash`), a success remembered for a short
    time. `subject` names the account (the user id, or `robot:<id>` for robot accounts)."""
    key = _cache_key(subject, stored_hash, password)
    if cache.get(key):
        return True
    if not (check(password) if check else check_password(password, stored_hash)):
        return False
    cache.set(key, 1, timeout=settings.HARBOR["CREDENTIAL_CACHE_SECONDS"])
    return True


def check_local_credentials(username: str, password: str) -> User | None:
    if not username or not password or len(password) > 1024:
        return None
    user = fetch_one(User, "username = %s AND is_active = %s", [username, True])
    if user is None:
        User().set_password(password)  # same cost for unknown users: no username oracle
        return None
    stored, check = user.password, user.check_password
    if not check_cached(subject=str(user.pk), stored_hash=stored, password=password, check=check):
        return None
    return user
