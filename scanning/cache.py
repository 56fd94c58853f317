"""What the pull check reads on every pull under `prevent_vul`, cached in the shared cache
so that a pull costs two cache round trips and no query once warm:

- `scanning:gen`: a generation, bumped when an allowlist, a project's scanner or the
  default scanner changes (every key below carries it, so a bump retires them all);
- `scanning:v:<artifact id>:<gen>`: the artifact's findings under its project's scanner;
- `scanning:allow:<project id>:<sys|own>:<gen>`: the CVE ids the allowlist in force exempts.

A finished report deletes its artifact's key and its indexes' (scanning.scans).
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

GEN_KEY = "scanning:gen"
SECONDS = 3600
SUBJECT_PREFIX = "scanning:subject:"


def generation() -> int:
    gen = cache.get(GEN_KEY)
    if gen is None:
        gen = int(time.time() * 1000)
        cache.add(GEN_KEY, gen, None)
        gen = cache.get(GEN_KEY, gen)
    return int(gen)


def bump() -> None:
    try:
        cache.incr(GEN_KEY)
    except ValueError:
        cache.set(GEN_KEY, int(time.time() * 1000), None)


def allowlists_changed() -> None:
    bump()


def findings_key(artifact_id: int, gen: int) -> str:
    return f"scanning:v:{artifact_id}:{gen}"


def allowlist_key(project_id: int, reuse_system: bool, gen: int) -> str:
    return f"scanning:allow:{project_id}:{'sys' if reuse_system else 'own'}:{gen}"


def forget_artifacts(artifact_ids: list[int]) -> None:
    gen = generation()
    cache.delete_many([findings_key(pk, gen) for pk in artifact_ids])


def get_many(keys: list[str]) -> dict[str, Any]:
    return cache.get_many(keys)


def put(key: str, value: Any) -> None:
    cache.set(key, value, SECONDS)


def remember_scanner_subject(subject: str, seconds: int) -> None:
    """The subject of a token handed to a scanner: its pulls pass `prevent_vul`, as the
    scanner robot's do in Harbor (the scanner must read an image that the policy blocks)."""
    cache.set(SUBJECT_PREFIX + subject, True, seconds)


def is_scanner_subject(subject: str) -> bool:
    return subject.startswith("harbor-scanner-") and bool(cache.get(SUBJECT_PREFIX + subject))
