"""The migrated templates that end-to-end instances copy (tests/stack.py): those of other
migration sets are dropped, but never one that a running process holds."""

from __future__ import annotations

import uuid

import psycopg

from tests.stack import PG_DSN, _template_lock_key, drop_stale_templates

CURRENT, OLD, IN_USE = "0123456789abcdef", "fedcba9876543210", "00000000000000aa"


def _databases(prefix: str) -> set[str]:
    with psycopg.connect(PG_DSN) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
        )
        return {name for (name,) in rows}


def test_stale_templates_go_and_held_or_current_ones_stay() -> None:
    prefix = f"harbor_tpltest_{uuid.uuid4().hex[:6]}_"
    names = {
        "current": prefix + CURRENT,
        "old": prefix + OLD,
        "half-built": prefix + f"{CURRENT}_4242",  # a builder that died
        "in use": prefix + IN_USE,
    }
    with psycopg.connect(PG_DSN, autocommit=True) as admin:
        for name in names.values():
            admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        try:
            with psycopg.connect(PG_DSN, autocommit=True) as other_process:
                key = _template_lock_key(IN_USE)
                other_process.execute("SELECT pg_advisory_lock_shared(%s)", (key,))
                dropped = drop_stale_templates(CURRENT, prefix=prefix)
                assert sorted(dropped) == sorted([names["old"], names["half-built"]])
                assert _databases(prefix) == {names["current"], names["in use"]}
            # that process ended, and its lock with it: its template is stale now too
            assert drop_stale_templates(CURRENT, prefix=prefix) == [names["in use"]]
            assert _databases(prefix) == {names["current"]}
        finally:
            for name in names.values():
                admin.execute(f'DROP DATABASE IF EXISTS "{name}"')
