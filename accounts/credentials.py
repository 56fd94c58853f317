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

from django.conf import settings
from django.core.cache import cache

from accounts.models import User


def _cache_key(user: User, password: str) -> str:
    material = f"{user.pk}\x00{user.password}\x00{password}".encode()
    digest = hmac.new(settings.SECRET_KEY.encode(), material, hashlib.sha256).hexdigest()
    return f"cred:{digest}"


def check_local_credentials(username: str, password: str) -> User | None:
    if not username or not password or len(password) > 1024:
        return None
    user = User.objects.filter(username=username, is_active=True).first()
    if user is None:
        User().set_password(password)  # same cost for unknown users: no username oracle
        return None
    key = _cache_key(user, password)
    if cache.get(key):
        return user
    if not user.check_password(password):
        return None
    cache.set(key, 1, timeout=settings.HARBOR["CREDENTIAL_CACHE_SECONDS"])
    return user
