"""Logins refused with a reason the caller may see.

Wrong passwords and unknown users are not errors: the checks return None, and callers
answer "invalid username or password" whatever the cause, so that nothing tells them
apart. These are the other cases: the password was right but the directory marks the
account unusable, or the directory cannot be asked at all.
"""

from __future__ import annotations

from collections.abc import Mapping


class LoginRefused(Exception):
    status = 401
    code = "UNAUTHORIZED"
    counts_as_failure = True  # towards login throttling

    def __init__(
        self, message: str, *, key: str | None = None, params: Mapping[str, object] | None = None
    ) -> None:
        """`key`, `params`: the UI's words for it, as a DomainError's
        (harbor_py.core.errors)."""
        super().__init__(message)
        self.key = key
        self.params = dict(params or {})


class DirectoryUnavailable(LoginRefused):
    """Not the caller's fault: the LDAP servers are down or misconfigured."""

    status = 503
    code = "SERVICE_UNAVAILABLE"
    counts_as_failure = False


class ProviderUnavailable(LoginRefused):
    """Not the caller's fault: the OpenID provider cannot be asked whether a CLI secret's
    grant is still valid (auth_mode oidc_auth)."""

    status = 503
    code = "SERVICE_UNAVAILABLE"
    counts_as_failure = False
