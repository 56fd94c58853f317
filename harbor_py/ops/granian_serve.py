"""Starts granian for the `core` program (harbor_py.processes, `HARBOR_WEB_SERVER=granian`,
the default): granian's own command line, after what gunicorn does before it binds. Run as
`python -m harbor_py.ops.granian_serve <granian options> <app>`.

granian's main process loads no application: it forks the workers, which import
harbor_py.ops.granian_app each."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

from granian.cli import entrypoint

from harbor_py.ops import metrics_files


def remove_stale_socket(argv: list[str]) -> None:
    """A unix socket left by a server that did not stop cleanly (killed, the machine
    reset): granian refuses to bind over it ("Address already in use") and supervisord
    would restart it until it gives up. gunicorn removes it the same way."""
    if "--uds" not in argv[:-1]:
        return
    path = Path(argv[argv.index("--uds") + 1])
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return
    if not stat.S_ISSOCK(mode):
        raise SystemExit(f"{path} is not a socket")
    os.unlink(path)


def main() -> None:
    remove_stale_socket(sys.argv)
    # Once per start, before any worker writes: files of processes that are gone.
    metrics_files.prepare()
    entrypoint()


if __name__ == "__main__":
    main()
