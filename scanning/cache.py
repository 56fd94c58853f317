"""What the pull check reads on every pull under `prevent_vul`, cached in the shared cache
(a warm pull costs one cache round trip, a `get_many` of two small keys, and no query) and
for LOCAL_SECONDS in the process itself (no round trip at all):

- `scanning:gen`: a generation, bumped when an allowlist, a project's scanner or the
  default scanner changes;
- `scanning:readable:<generation>:<project id>`: the manifest types the project's scanner
  reads, for the `vulnerabilities` addition link of the artifact lists (no query when warm);
- `scanning:verdict:<artifact id>:<severity>:<sys|own>`: (generation, count of the findings
  the policy counts, valid until): stale when its generation is not the current one or the
  allowlist it applied has expired since.

A finished report deletes its artifact's verdicts and its indexes' (scanning.scans). The
process that makes a change forgets its own copies at once; other processes see it within
LOCAL_SECONDS.
"""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache

GEN_KEY = "scanning:gen"
LOCAL_SECONDS = 1.0
_local: dict[str, tuple[float, Any]] = {}
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
    _local.clear()
    try:
        cache.incr(GEN_KEY)
    except ValueError:
        cache.set(GEN_KEY, int(time.time() * 1000), None)


def allowlists_changed() -> None:
    bump()


SEVERITIES = ("None", "Low", "Medium", "High", "Critical")


def verdict_key(artifact_id: int, severity: str, reuse_system: bool) -> str:
    return f"scanning:verdict:{artifact_id}:{severity}:{'sys' if reuse_system else 'own'}"


def forget_artifacts(artifact_ids: list[int]) -> None:
    _local.clear()
    cache.delete_many(
        [verdict_key(pk, s, r) for pk in artifact_ids for s in SEVERITIES for r in (True, False)]
    )


def get_many(keys: list[str]) -> dict[str, Any]:
    return cache.get_many(keys)


def put(key: str, value: Any, seconds: int = SECONDS) -> None:
    cache.set(key, value, seconds)


READABLE_SECONDS = 300


def readable_key(generation: int, project_id: int) -> str:
    """The manifest types a project's scanner reads (the artifact lists' `vulnerabilities`
    link), under the generation: a change of the project's or the default scanner drops it."""
    return f"scanning:readable:{generation}:{project_id}"


def remember_scanner_subject(subject: str, seconds: int) -> None:
    """The subject of a token handed to a scanner: its pulls pass `prevent_vul`, as the
    scanner robot's do in Harbor (the scanner must read an image that the policy blocks)."""
    cache.set(SUBJECT_PREFIX + subject, True, seconds)


def is_scanner_subject(subject: str) -> bool:
    return subject.startswith("harbor-scanner-") and bool(cache.get(SUBJECT_PREFIX + subject))


def local_get(key: str) -> Any:
    hit = _local.get(key)
    if hit is None or hit[0] < time.monotonic():
        return None
    return hit[1]


def local_put(key: str, value: Any) -> None:
    if len(_local) > 10_000:
        _local.clear()
    _local[key] = (time.monotonic() + LOCAL_SECONDS, value)
