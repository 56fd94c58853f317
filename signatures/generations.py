"""Counters that version the cached pull verdicts: one per project (bumped when its keys
change or one of its artifacts is deleted) and one for the system's keys. A verdict is
cached under the counters it was computed with, so a bump retires every cached verdict of
the project at once, in one write."""

from __future__ import annotations

import time
from typing import Any

from django.core.cache import cache
from django.db import transaction

SYSTEM = "sign:gen:*"


def project_key(project_name: str) -> str:
    return f"sign:gen:p:{project_name}"


def _fresh() -> int:
    """A starting value no earlier counter had (a counter Redis evicted must not come
    back at a value that verdicts were cached under)."""
    return time.time_ns() // 1000


def read(project_name: str, *also: str) -> tuple[int, int, dict[str, Any]]:
    """(the project's counter, the system's, the values of the keys `also`) in one round
    trip when both counters exist."""
    counters = [project_key(project_name), SYSTEM]
    found = cache.get_many([*counters, *also])
    for key in counters:
        if key not in found:
            cache.add(key, _fresh(), timeout=None)
            found[key] = cache.get(key)
    return found[counters[0]], found[counters[1]], found


def bump(project_name: str | None) -> None:
    key = SYSTEM if project_name is None else project_key(project_name)
    try:
        cache.incr(key)
    except ValueError:  # not there (evicted): a fresh value retires the old verdicts too
        cache.set(key, _fresh(), timeout=None)


def bump_after_commit(project_name: str | None) -> None:
    transaction.on_commit(lambda: bump(project_name))
