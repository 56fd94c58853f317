"""Migrations as their own step: `platform prepare --skip-migrations` (what every node of a
multi-node deployment runs) refuses a schema older than the code; after the one-shot
`manage.py migrate` it prepares without touching the schema."""

from __future__ import annotations

from pathlib import Path

from tests.stack import Instance, drop_database, recreate_database


def test_prepare_skips_migrations_only_on_a_migrated_database(tmp_path: Path) -> None:
    node = Instance(data_dir=tmp_path / "node")
    recreate_database(node.db_name)
    try:
        refused = node.manage("platform", "prepare", "--skip-migrations", check=False)
        assert refused.returncode != 0
        assert "unapplied migrations: run `manage.py migrate` first" in refused.stderr
        node.manage("migrate", "--noinput")
        prepared = node.manage("platform", "prepare", "--skip-migrations", check=False)
        assert prepared.returncode == 0, prepared.stderr
        assert "created the admin user" in prepared.stdout
        listed = node.manage("showmigrations", "--plan")
        assert "[ ]" not in listed.stdout
    finally:
        drop_database(node.db_name)
