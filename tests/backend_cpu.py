"""CPU of this process's PostgreSQL backend, for the in-process benches
(tests/integration/bench_*.py): the database runs on the same machine."""

from __future__ import annotations

from pathlib import Path

from django.db import connection


def backend_cpu() -> float:
    """CPU seconds (user + system) the backend of Django's connection has used so far."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / 100  # clock ticks
