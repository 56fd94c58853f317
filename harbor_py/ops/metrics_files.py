"""prometheus_client's multiprocess directory (PROMETHEUS_MULTIPROC_DIR): gunicorn's
workers, the Celery worker's processes and the exporter of one node share it; the exporter
adds up every process's files at scrape time.

Files of processes that are gone are removed when gunicorn starts (their counts reset, which
Prometheus' rate() understands); files of live processes (a Celery worker that outlives a
restart of `core`) are kept.
"""

from __future__ import annotations

import contextlib
import os
import re
from pathlib import Path

from harbor_py.core import env

_PID = re.compile(r"_(\d+)\.db$")


def directory() -> Path | None:
    value = env.get("PROMETHEUS_MULTIPROC_DIR", "")
    return Path(value) if value else None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def prepare() -> None:
    path = directory()
    if path is None:
        return
    path.mkdir(parents=True, exist_ok=True)
    for entry in path.glob("*.db"):
        match = _PID.search(entry.name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()


def process_exited(pid: int) -> None:
    if directory() is None:
        return
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid)
