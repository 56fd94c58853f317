"""Verifying username/password pairs, with a short-lived cache of successful checks.

Every registry client process asks /service/token for a token with Basic credentials, and
a PBKDF2 check costs about 0.2 s, so verified pairs are remembered for a short time.
The cache key is an HMAC (keyed with SECRET_KEY) over the presented name and password, so
`accounts.login` can read it in the same round trip as the throttle and the settings. The
value is an HMAC over the account (user id, or `robot:<id>`) and its stored password hash,
compared with the row read on every call: the cache never holds anything that reveals the
password, and changing the password (which changes the stored hash) or deactivating the
user invalidates every cached entry at once.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from django.conf import settings
from django.contrib.auth.hashers import check_password
from django.core.cache import cache

from accounts.models import User
from harbor_py.core import read_ahead
from harbor_py.core.db import fetch_one


def _mac(*parts: str) -> str:
    material = "\x00".join(parts).encode()
    return hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).hexdigest()


def cache_key(username: str, password: str) -> str:
    return "credential:" + _mac(username, password)


def check_cached(
    *,
    username: str,
    subject: str,
    stored_hash: str,
    password: str,
    check: Callable[[str], bool] | None = None,
    timeout: int | None = None,
) -> bool:
    """`check(password)` (default: against `stored_hash`), a success remembered for a short
    time. `username` is the name presented; `subject` names the account it resolved to
    (the user id, or `robot:<id>` for robot accounts). `timeout`: how long a success is
    remembered, CREDENTIAL_CACHE_SECONDS by default."""
    key, account = cache_key(username, password), _mac(subject, stored_hash)
    remembered = read_ahead.get(key)  # read with the login's other keys (accounts.login)
    if isinstance(remembered, str) and hmac.compare_digest(remembered, account):
        return True
    if not (check(password) if check else check_password(password, stored_hash)):
        return False
    remember = settings.HARBOR["CREDENTIAL_CACHE_SECONDS"] if timeout is None else timeout
    cache.set(key, account, timeout=remember)
    return True


def check_local_credentials(username: str, password: str) -> User | None:
    if not username or not password or len(password) > 1024:
        return None
    user = fetch_one(User, "username = %s AND is_active = %s", [username, True])
    if user is None:
        User().set_password(password)  # same cost for unknown users: no username oracle
        return None
    stored, check = user.password, user.check_password
    if not check_cached(
        username=username, subject=str(user.pk), stored_hash=stored, password=password, check=check
    ):
        return None
    return user
