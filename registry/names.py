"""The grammar of registry names, references and digests (OCI distribution spec)."""

from __future__ import annotations

import re

REPOSITORY_NAME = re.compile(
    r"^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$"
)
PROJECT_NAME = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
TAG = re.compile(r"^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$")
DIGEST = re.compile(r"^sha256:[a-f0-9]{64}$|^sha512:[a-f0-9]{128}$")
MAX_REPOSITORY_NAME = 255


def valid_repository_name(name: str) -> bool:
    return len(name) <= MAX_REPOSITORY_NAME and "/" in name and bool(REPOSITORY_NAME.match(name))


def project_of(repository_name: str) -> str:
    return repository_name.split("/", 1)[0]


def is_digest(reference: str) -> bool:
    return bool(DIGEST.match(reference))


def is_tag(reference: str) -> bool:
    return bool(TAG.match(reference))
