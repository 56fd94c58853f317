"""Mutated request bodies for the fuzzer (tests/e2e/test_fuzz.py): a valid body of an
operation with one to three of its values replaced by hostile ones (wrong types, integers
beyond 64 bits, negative counts, bad crons, bad doublestar patterns, unknown enum values,
over-long strings, NUL, URLs that do not parse), a key dropped or an unknown one added, or
a body that is not JSON at all.

The operations whose bodies our OpenAPI document leaves free-form (webhooks, retention,
schedules) or only half describes (robots' permissions, registries, scanners, the OIDC
settings) are reached this way past their first check, which schemathesis' generated
bodies rarely pass. Deterministic: a seeded random generator (HARBOR_FUZZ_SEED), so that a
failure is reproduced by the same run. Every URL it writes names this machine or does not
parse: a fuzzer must send traffic to this machine only.
"""

from __future__ import annotations

import copy
import json
import random
from typing import Any

HOSTILE: tuple[Any, ...] = (
    None,
    True,
    0,
    -1,
    -(2**31),
    2**31,
    2**63,
    2**70,
    -(2**70),
    1.5,
    1e308,
    "",
    " ",
    "\x00",
    "a\x00b",
    "²",
    "٣",
    "x" * 300,
    "x" * 5000,
    "x" * 70_000,
    [],
    [[]],
    {},
    {"": {}},
    ["a", 1, None],
    # crons: Harbor's have six fields, seconds first
    "0 0 0 31 2 *",
    "*/0 * * * * *",
    "99 99 99 * * *",
    "* * * * *",
    "a b c d e f",
    "0 0 0 * * * *",
    # doublestar patterns
    "[",
    "]",
    "{a,b",
    "**/[!",
    "[]",
    "[z-a]",
    "\\",
    # URLs
    "http://[",
    "http://127.0.0.1:99999",
    "https://127.0.0.1:b",
    "ftp://127.0.0.1/",
    "http://127.0.0.1:9/x",
    # enum values nobody knows
    "UNKNOWN",
    "unknown_type",
)
MALFORMED: tuple[bytes, ...] = (
    b"",
    b"{",
    b"[1,",
    b"\xff\xfe",
    b'{"a": NaN}',
    b"null",
    b'"text"',
    b"[" * 100_000 + b"]" * 100_000,
)


def _junk(rnd: random.Random, depth: int = 0) -> Any:
    """A random JSON value."""
    kind = rnd.randrange(7 if depth < 3 else 4)
    if kind == 0:
        return rnd.choice(HOSTILE)
    if kind == 1:
        return rnd.randint(-(2**66), 2**66)
    if kind == 2:
        return "".join(chr(rnd.randrange(1, 0x3000)) for _ in range(rnd.randrange(12)))
    if kind == 3:
        return rnd.choice([True, False, None, rnd.random()])
    if kind in (4, 5):
        return [_junk(rnd, depth + 1) for _ in range(rnd.randrange(4))]
    return {str(_junk(rnd, 3))[:10]: _junk(rnd, depth + 1) for _ in range(rnd.randrange(4))}


def _paths(doc: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON document, the document itself first."""
    found = [path]
    if isinstance(doc, dict):
        for key, value in doc.items():
            found.extend(_paths(value, (*path, key)))
    elif isinstance(doc, list):
        for index, value in enumerate(doc):
            found.extend(_paths(value, (*path, index)))
    return found


def _parent(doc: Any, path: tuple[Any, ...]) -> Any:
    for step in path[:-1]:
        doc = doc[step]
    return doc


def mutate(seed_body: Any, rnd: random.Random) -> bytes:
    """One hostile request body made from a valid one."""
    if rnd.random() < 0.05:
        return rnd.choice(MALFORMED)
    doc = copy.deepcopy(seed_body)
    for _ in range(rnd.randint(1, 3)):
        path = rnd.choice(_paths(doc))
        # a copy: the constants' lists and objects must not be changed by a later step
        value = copy.deepcopy(rnd.choice(HOSTILE) if rnd.random() < 0.6 else _junk(rnd))
        if not path:
            doc = value
            continue
        parent = _parent(doc, path)
        if isinstance(parent, dict) and rnd.random() < 0.15:
            del parent[path[-1]]
        elif isinstance(parent, dict) and rnd.random() < 0.1:
            parent[str(_junk(rnd, 3))[:12]] = value  # a key nobody knows
        else:
            parent[path[-1]] = value
    return json.dumps(doc).encode()
