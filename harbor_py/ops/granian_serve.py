"""Starts granian for the `core` program (harbor_py.processes, `HARBOR_WEB_SERVER=granian`,
the default): granian's own command line, after what gunicorn does before it binds. Run as
`python -m harbor_py.ops.granian_serve <granian options> <app>`.

granian's main process loads no application: it forks the workers, which import
harbor_py.granian_app each."""

from __future__ import annotations

import os
import stat
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from granian.cli import entrypoint

from harbor_py.ops import metrics_files
from harbor_py.ops.access_log import StartResponse, WSGIApp


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


class WithoutProcessEnvironment:
    """granian starts every request's WSGI environ from a copy of the process environment
    (granian/wsgi.py): DATABASE_URL, HARBOR_SECRET_KEY and the rest would be in Django's
    request.META, which error reports and debugging tools print. They are dropped here;
    what the request itself carries (headers, CGI variables) is kept."""

    def __init__(self, app: WSGIApp, inherited: frozenset[str]) -> None:
        self.app, self.inherited = app, inherited

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Any:
        for name in self.inherited:
            environ.pop(name, None)
        return self.app(environ, start_response)


# What a request sets is never dropped, even where the process environment has the same
# name: its headers (HTTP_*) and the CGI variables of PEP 3333.
_REQUEST_NAMES = frozenset(
    [
        "REQUEST_METHOD",
        "SCRIPT_NAME",
        "PATH_INFO",
        "QUERY_STRING",
        "CONTENT_TYPE",
        "CONTENT_LENGTH",
        "SERVER_NAME",
        "SERVER_PORT",
        "SERVER_PROTOCOL",
        "REMOTE_ADDR",
        "REMOTE_PORT",
    ]
)


def inherited_names(environment: Mapping[str, str]) -> frozenset[str]:
    """The process environment's names that no request sets."""
    return frozenset(
        name for name in environment if not name.startswith("HTTP_") and name not in _REQUEST_NAMES
    )


def main() -> None:
    remove_stale_socket(sys.argv)
    # Once per start, before any worker writes: files of processes that are gone.
    metrics_files.prepare()
    entrypoint()


if __name__ == "__main__":
    main()
