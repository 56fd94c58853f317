"""The built-in scanner's process: `gunicorn scanner.wsgi:application` (harbor_py/processes.py,
role "scanner"). Django is set up for its ORM only; scanner.adapter answers the requests."""

from __future__ import annotations

import contextlib

import django

from harbor_py.core import env

env.set_default("DJANGO_SETTINGS_MODULE", "harbor_py.settings")
django.setup()

from django.db import DatabaseError  # noqa: E402

from scanner import adapter  # noqa: E402  (needs the apps loaded)

with contextlib.suppress(DatabaseError):  # not migrated yet: requests will find the tables
    adapter.recover_jobs()
application = adapter.application
