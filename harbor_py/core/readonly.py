"""Read-only mode (the `read_only` configuration item, registered by harbor_py/options.py):
the rules every layer asks about, as Harbor applies them.

Harbor's readonly middleware refuses every request with an unsafe method (anything but GET,
HEAD, OPTIONS) with 403 and code DENIED, "The system is in read only mode. Any modification
is prohibited.", except the few writes an admin needs to get out of the mode or to sign in
(the middleware is wiring: harbor_py/ops/readonly.py). Blob uploads go from nginx straight
to distribution, so the token service stops granting `push` and `delete` while the mode is
on (accounts/grants.py, registry/access.py); jobs that write the registry are skipped
(jobs/runner.py). What a token issued before the switch can still do is in
docs/operations.md.
"""

from __future__ import annotations

import re

from harbor_py.core import configuration

MESSAGE = "The system is in read only mode. Any modification is prohibited."
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
WRITE_ACTIONS = frozenset({"push", "delete", "*"})
# (method, path) pairs allowed while read-only: leaving the mode, signing in and out.
ALLOWED_WRITES: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("PUT", re.compile(r"^/api/v2\.0/configurations/?$")),
    ("POST", re.compile(r"^/c/(login|log_out)$")),
    ("POST", re.compile(r"^/account/sign-(in|out)$")),
    ("POST", re.compile(r"^/i18n/")),
)


def is_read_only() -> bool:
    # One cache read (configuration falls back to the database when Redis is down).
    return bool(configuration.get("read_only"))


def refuses(method: str, path: str) -> bool:
    """Whether a request is a write that read-only mode refuses (when the mode is on)."""
    if method.upper() in SAFE_METHODS:
        return False
    if any(method.upper() == m and pattern.match(path) for m, pattern in ALLOWED_WRITES):
        return False
    return is_read_only()


def registry_actions(actions: frozenset[str]) -> frozenset[str]:
    """The registry actions a token may carry now: pull only while read-only."""
    if actions & WRITE_ACTIONS and is_read_only():
        return actions - WRITE_ACTIONS
    return actions


def skipped_job_message(
    vendor_type: str, parameters: dict[str, object], writes_registry: bool
) -> str | None:
    """Why a job must not run now, or None. Jobs that write registry content or another
    registry (their declaration says so, jobs.registry) are skipped while read-only; a dry
    run writes nothing and may run."""
    if not writes_registry or parameters.get("dry_run") is True:
        return None
    if not is_read_only():
        return None
    return f"skipped: the system is in read only mode, {vendor_type} would modify registry data"
