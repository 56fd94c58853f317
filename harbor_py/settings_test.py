"""Settings for the pytest process itself: PostgreSQL and the machine's Redis.

End-to-end tests start whole instances with their own environment (tests/stack.py).
"""

import os
import tempfile

from harbor_py.core import env

env.set_default("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/harbor_py")
env.set_default("REDIS_URL", "redis://127.0.0.1:6379/14")
env.set_default("HARBOR_DATA_DIR", os.path.join(tempfile.gettempdir(), "harbor-py-pytest"))
env.set_default("HARBOR_CACHE_PREFIX", f"pytest-{os.getpid()}")
# Under pytest-xdist (`make test` runs the suite with -n) each worker gets a data directory
# (signing keys, storage) and cache keys of its own; the controller set both before it
# started the workers, which inherit them (and pass them on to their own subprocesses,
# hence the check). The database is already the worker's own (pytest-django's _gwN suffix).
if worker := env.get("PYTEST_XDIST_WORKER"):
    for name in ("HARBOR_DATA_DIR", "HARBOR_CACHE_PREFIX"):
        if not (value := env.require(name)).endswith(f"-{worker}"):
            env.override(name, f"{value}-{worker}")

from harbor_py.settings import *  # noqa: E402, F403  (after the defaults it reads)

PASSWORD_HASHERS = ["django.contrib.auth.hashers.PBKDF2PasswordHasher"]

# Tasks enqueued by the code under test run inline (fast tests have no worker).
CELERY_TASK_ALWAYS_EAGER = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file, not Django's shared in-memory test database: tests with threads need
    # SQLite's real locking (the embedded default's), which shared-cache mode replaces.
    DATABASES["default"]["TEST"] = {"NAME": os.path.join(RUNTIME.data_dir, "test.sqlite3")}  # noqa: F405

# Django's test client sends Host: testserver.
ALLOWED_HOSTS = [*ALLOWED_HOSTS, "testserver"]  # noqa: F405

# The tests' webhook receivers listen on loopback (docs/webhooks.md).
WEBHOOK_REFUSE_PRIVATE_TARGETS = False
