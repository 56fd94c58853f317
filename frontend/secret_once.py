"""A robot secret carried from the create/refresh POST to the page that shows it
(post/redirect/get), readable once.

The POST keeps the secret in the cache (Redis), encrypted with a fresh key that only the
redirect URL holds; the cache entry is named by a hash of that key. The GET takes the
entry out, so a reload, Back or the URL in the history finds nothing, and the cache never
holds a usable secret without the browser's URL."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from django.core.cache import cache

LIFETIME_SECONDS = 300


@dataclass(frozen=True)
class Shown:
    robot_id: int
    secret: str
    back: str


def _entry(key: str) -> str:
    return "ui:robot-secret:" + hashlib.sha256(key.encode()).hexdigest()


def keep(*, user_id: int | None, robot_id: int, secret: str, back: str) -> str:
    """Store the secret for one reading by `user_id`; returns the key for the URL."""
    key = Fernet.generate_key().decode()
    body = json.dumps({"user": user_id, "robot": robot_id, "secret": secret, "back": back})
    cache.set(_entry(key), Fernet(key.encode()).encrypt(body.encode()), LIFETIME_SECONDS)
    return key


def take(*, user_id: int | None, key: str) -> Shown | None:
    """The secret, removed from the cache; None when already read, expired, or not this
    user's."""
    entry = _entry(key)
    stored = cache.get(entry)
    if stored is None:
        return None
    cache.delete(entry)
    try:
        body = json.loads(Fernet(key.encode()).decrypt(stored))
    except (InvalidToken, ValueError):
        return None
    if body["user"] != user_id:
        return None
    return Shown(robot_id=body["robot"], secret=body["secret"], back=body["back"])
