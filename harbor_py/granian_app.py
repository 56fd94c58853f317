"""granian's WSGI application for the `core` program: harbor_py.wsgi's application (the same
handlers, middleware and views gunicorn serves) with its access lines, and what
gunicorn_conf does for each gunicorn worker.

granian's main process imports this module before it forks the workers
(harbor_py.ops.granian_serve preloads the application it serves), so each worker starts
with Django, every app and the URL conf loaded; granian then calls `worker_application`
in each worker (`--factory`) for what is the worker's alone."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
from multiprocessing import util

from django.urls import get_resolver

from harbor_py.ops import access_log
from harbor_py.ops.access_log import WSGIApp
from harbor_py.ops.granian_serve import hide_process_environment
from harbor_py.wsgi import application as django_application

get_resolver().url_patterns  # noqa: B018  # imports the URL conf, every view: not per worker
application = access_log.AccessLogged(django_application)


def _end_with_the_main_process() -> None:
    """A worker whose granian main process died (killed, out of memory) would go on
    serving the old socket while supervisord starts a new server: it gets SIGTERM from the
    kernel instead (Linux's parent-death signal), as a gunicorn worker exits when its
    arbiter is gone."""
    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)
    main = multiprocessing.parent_process()
    if main is not None and os.getppid() != main.pid:  # it died before the call
        os.kill(os.getpid(), signal.SIGTERM)


def worker_application() -> WSGIApp:
    """The application, for a granian worker that has just been forked."""
    hide_process_environment()
    _end_with_the_main_process()
    # A granian worker is a multiprocessing.Process: it ends through os._exit, which runs
    # multiprocessing's finalizers and not atexit's. The lines still buffered are written then.
    util.Finalize(None, access_log.flush, exitpriority=0)
    # As gunicorn_conf.post_worker_init: the loaded application's objects leave every later
    # full garbage collection (about 8% of a registry request's CPU). granian_serve froze
    # what the main process loaded; this is for what its start-up added since.
    gc.freeze()
    return application
