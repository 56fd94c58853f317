"""Encryption at rest for secrets kept in the database (configuration passwords, registry
credentials). Fernet (AES-128-CBC + HMAC-SHA256) from `cryptography`, keyed from
SECRET_KEY, so every node that shares SECRET_KEY can read what another wrote."""

from __future__ import annotations

import base64
import hashlib
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings

PREFIX = "enc:v1:"


@lru_cache(maxsize=4)
def _fernet(secret_key: str) -> Fernet:
    digest = hashlib.sha256(b"harbor-py secretbox\x00" + secret_key.encode()).digest()
    return Fernet(base64.urlsafe_b64encode(digest))


def encrypt(plaintext: str) -> str:
    return PREFIX + _fernet(settings.SECRET_KEY).encrypt(plaintext.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("value is not an encrypted secret")
    try:
        return _fernet(settings.SECRET_KEY).decrypt(stored[len(PREFIX) :].encode()).decode()
    except InvalidToken:
        raise ValueError("secret cannot be decrypted with this SECRET_KEY") from None
