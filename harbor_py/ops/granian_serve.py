"""Starts granian for the `core` program (harbor_py.processes, `HARBOR_WEB_SERVER=granian`):
granian's own command line, after what gunicorn does before it binds. Run as
`python -m harbor_py.ops.granian_serve <granian options> <app>`.

granian's main process loads the application (`preload`) and forks the workers, which
import harbor_py.granian_app each for what is theirs alone."""

from __future__ import annotations

import gc
import importlib
import os
import socket
import stat
import sys
from pathlib import Path

import granian.cli
import granian.wsgi
from granian.net import SocketSpec
from granian.server.mp import MPServer

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


class _NoEnvironment:
    """What granian.wsgi sees of the `os` module: an empty process environment."""

    environ: dict[str, str] = {}


def hide_process_environment() -> None:
    """granian starts every request's WSGI environ from a copy of the process environment
    (a dict() of the os module's environ in granian/wsgi.py, its only use of `os`), and
    the request's own variables go over it: DATABASE_URL and the secret key would be in
    Django's request.META, which error reports print, and a variable named like a header
    (HTTP_PROXY) or CONTENT_TYPE/CONTENT_LENGTH would pass for the request's own where the
    request has none. Each worker calls this before granian builds that copy
    (harbor_py.granian_app), so the environ holds the request's variables and granian's
    fixed ones only, at no cost per request. tests/unit/test_web_server.py runs granian's
    own environ builder against it."""
    granian.wsgi.os = _NoEnvironment  # type: ignore[assignment]  # a stand-in for the os module


def preload(argv: list[str]) -> None:
    """The application granian is to serve (its command line's last argument), imported
    once in granian's main process before it forks the workers, as gunicorn's --preload
    does: Django, every app and the URL conf, about 2 s of CPU that each worker spent
    itself before it served (10-30 s where a node restarts on a loaded machine). A worker
    then serves a few milliseconds after granian forked it, at a start, a respawn or a
    reload (HUP), and shares those pages with the main process until it writes to them.
    Loading opens no connection and starts no thread (Django connects on first use), so
    the workers inherit none."""
    module, _, _ = argv[-1].partition(":")
    importlib.import_module(module)
    # Out of every later garbage collection, here and in the workers: a collection writes
    # to each object it visits, and so copies the pages a fork shares.
    gc.freeze()


class OneListenerServer(MPServer):
    """granian's server with one listening TCP socket, bound in the main process and
    inherited by every worker, as granian does for a unix socket and gunicorn for both. On
    Linux granian otherwise has each worker bind its own (SO_REUSEPORT) after it loaded the
    application: the port refuses connections until then although "Listening" is logged,
    and the connections waiting on a worker that dies are reset instead of going to the
    next one."""

    def _init_shared_socket(self) -> None:
        if self.bind_uds:
            super()._init_shared_socket()
            return
        self._ssp = None
        holder = SocketSpec(self.bind_addr, self.bind_port, self.backlog).build()
        self._shd, self._sfd = holder, holder.get_fd()  # type: ignore[assignment]  # granian's own attributes, typed for its builder
        self._sso = socket.socket(fileno=self._sfd)
        self._sso.set_inheritable(True)
        self._sso.listen(self.backlog)  # granian's build only binds; its workers listen


def main(options: list[str]) -> None:
    """Serves with granian's command-line options (the application last); also called by
    `manage.py serve web`, in its own process."""
    remove_stale_socket(options)
    # Once per start, before any worker writes: files of processes that are gone.
    metrics_files.prepare()
    preload(options)
    granian.cli.Server = OneListenerServer  # the class granian's command line starts
    granian.cli.cli.main(args=options, prog_name="granian", auto_envvar_prefix="GRANIAN")


if __name__ == "__main__":
    main(sys.argv[1:])
