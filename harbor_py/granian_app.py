"""granian's WSGI application for the `core` program: harbor_py.wsgi's application (the same
handlers, middleware and views gunicorn serves) with its access lines, and what
gunicorn_conf does for each gunicorn worker. Each granian worker imports this module once,
after granian forked it."""

from __future__ import annotations

import ctypes
import gc
import multiprocessing
import os
import signal
from multiprocessing import util

from harbor_py.core import env
from harbor_py.ops import access_log
from harbor_py.ops.granian_serve import WithoutProcessEnvironment, inherited_names
from harbor_py.wsgi import application as django_application

application = access_log.AccessLogged(
    WithoutProcessEnvironment(django_application, inherited_names(env.variables()))
)


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


_end_with_the_main_process()

# A granian worker is a multiprocessing.Process: it ends through os._exit, which runs
# multiprocessing's finalizers and not atexit's. The lines still buffered are written then.
util.Finalize(None, access_log.flush, exitpriority=0)

# As gunicorn_conf.post_worker_init: the loaded application's objects leave every later
# full garbage collection (about 8% of a registry request's CPU).
gc.freeze()
