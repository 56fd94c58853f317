"""gunicorn settings for the `core` program (deploy/supervisord.conf): JSON logs (access
lines on stdout, written by harbor_py.ops.access_log; gunicorn's own on stderr), the
Prometheus multiprocess directory, and the worker's start-up objects frozen for the GC."""

from __future__ import annotations

import gc
from typing import Any

from harbor_py.ops import access_log, metrics_files

logconfig_dict: dict[str, Any] = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "harbor_py.ops.jsonlog.JsonFormatter"}},
    "handlers": {
        "error": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "stream": "ext://sys.stderr",
        },
    },
    "root": {"level": "INFO", "handlers": ["error"]},
    "loggers": {
        "gunicorn.error": {"level": "INFO", "handlers": ["error"], "propagate": False},
    },
}

logger_class = "harbor_py.ops.access_log.JsonAccessLogger"
accesslog = "-"  # enables access lines; JsonAccessLogger writes them to stdout itself

# gunicorn >= 25 opens a control socket at one fixed path per user by default: several
# instances on one host would take it from each other. Nothing here uses it.
control_socket_disable = True

# nginx bounds request lines and headers (large_client_header_buffers) and answers in
# Harbor's error shape past them; gunicorn's own, lower limits answered plain-text 414/400.
limit_request_line = 0
limit_request_field_size = 32768  # nginx: large_client_header_buffers 8 32k


def on_starting(server: Any) -> None:
    metrics_files.prepare()


def child_exit(server: Any, worker: Any) -> None:
    metrics_files.process_exited(worker.pid)


def worker_exit(server: Any, worker: Any) -> None:
    access_log.flush()  # the lines still buffered (harbor_py.ops.access_log)


def post_worker_init(worker: Any) -> None:
    # The objects of the loaded application (Django, the URL conf, models) live as long as
    # the worker: freezing them takes them out of every later full garbage collection,
    # which otherwise walks them again and again (about 8% of a registry request's CPU).
    gc.freeze()
