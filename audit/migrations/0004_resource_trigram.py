"""A trigram index for the fuzzy resource filter (q=resource=~text), on PostgreSQL.

Django's icontains is UPPER("resource"::text) LIKE UPPER('%text%'), which no b-tree can
serve: without this index a rare pattern reads the whole log. pg_trgm is a trusted
extension (PostgreSQL 13+), so the database owner may create it; where that is refused the
migration goes on without the index (the filter still works, only slower). No-op on SQLite.
"""

import logging

from django.db import migrations

logger = logging.getLogger(__name__)

INDEX = (
    "CREATE INDEX IF NOT EXISTS audit_log_resource_trgm ON audit_log "
    "USING gin ((UPPER(resource::text)) gin_trgm_ops)"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'")
        present = cursor.fetchone() is not None
    if not present:
        try:
            with schema_editor.connection.cursor() as cursor:
                cursor.execute("SAVEPOINT audit_trgm")
                cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                cursor.execute("RELEASE SAVEPOINT audit_trgm")
        except Exception as exc:  # not allowed: keep going without the index
            with schema_editor.connection.cursor() as cursor:
                cursor.execute("ROLLBACK TO SAVEPOINT audit_trgm")
            logger.warning("pg_trgm unavailable (%s): q=resource=~ will scan", exc)
            return
    schema_editor.execute(INDEX, params=None)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS audit_log_resource_trgm", params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0003_forwarding_schedule")]

    operations = [migrations.RunPython(create, drop)]
