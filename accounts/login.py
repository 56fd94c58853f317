"""One entry point for checking a username and password, with login throttling.

Under auth_mode ldap_auth every name but the local `admin` (and robot accounts) is
checked against the directory (accounts.ldap_auth); under oidc_auth against the user's CLI
secret (accounts.oidc_auth; the browser signs in through the provider); otherwise against
the local password.
Names with the robot prefix (`robot$`) are robot accounts (accounts.robots), in every mode.

After MAX_FAILURES failed attempts for one username from one client address within
WINDOW_SECONDS, further attempts are refused without checking the password until the
window passes. Keyed on (username, address) so that an attacker elsewhere cannot lock a
user out everywhere.

Every check is audited (operation login, resource_type user; never the password):
failures always (bounded by the throttle; a throttled pair adds one entry per window),
successes once per (username, client address) per SUCCESS_WINDOW_SECONDS for the API and
the token service, whose clients send their credentials with every request (a `docker
pull` asks /service/token each time); a UI session login (`session=True`) every time.
"""

from __future__ import annotations

import hashlib

from django.core.cache import cache

from accounts import credentials, robots
from accounts.credentials import check_local_credentials
from accounts.login_errors import LoginRefused
from accounts.models import User
from accounts.robots import RobotUser
from harbor_py.core import read_ahead
from harbor_py.core.actor import Actor

MAX_FAILURES = 10
WINDOW_SECONDS = 300
SUCCESS_WINDOW_SECONDS = 300


class LoginThrottled(Exception):
    pass


def _key(username: str, address: str) -> str:
    return "loginfail:" + hashlib.sha256(f"{username}\x00{address}".encode()).hexdigest()


def _verify(username: str, password: str, address: str) -> User | RobotUser | None:
    # Imported here: DRF imports this module (through its authentication classes) while
    # harbor_py.api.errors, which harbor_py.core.configuration needs, is still being imported.
    from accounts import ldap_auth, oidc_auth
    from accounts.services import ADMIN_USERNAME
    from harbor_py.core import configuration

    if robots.is_robot_name(username):
        return robots.authenticate(username, password)
    mode = configuration.get("auth_mode")
    if mode == "ldap_auth" and username != ADMIN_USERNAME:
        return ldap_auth.authenticate(username, password, address=address)
    if mode == "oidc_auth" and username != ADMIN_USERNAME:
        return oidc_auth.authenticate_cli_secret(username, password, address=address)
    return check_local_credentials(username, password)


def _count_failure(key: str) -> None:
    if cache.add(key, 1, timeout=WINDOW_SECONDS) is False:
        try:
            cache.incr(key)
        except ValueError:
            cache.set(key, 1, timeout=WINDOW_SECONDS)


def _audit(username: str, address: str, *, success: bool, description: str = "") -> None:
    from audit.services import record  # audit imports harbor_py.core.configuration (see _verify)

    record(
        actor=Actor(username=username, client_address=address),
        operation="login",
        resource_type="user",
        resource=username,
        success=success,
        description=description,
    )


def authenticate_credentials(
    username: str, password: str, *, address: str = "", session: bool = False
) -> User | RobotUser | None:
    """The user, or None for a wrong name or password. Raises LoginThrottled, and
    LoginRefused with a message for the caller (accounts.login_errors). `session`: a UI
    login, audited every time it succeeds."""
    from harbor_py.core import configuration  # see _verify

    key, recorded_key = _key(username, address), _key(username, address) + ":ok"
    credential_key = credentials.cache_key(username, password)
    # One round trip for all a login reads from the cache: the failure count, whether a
    # success is already recorded, the remembered credential check and the settings.
    seen = cache.get_many([key, recorded_key, credential_key, configuration.CACHE_KEY])
    configuration.prime(seen.get(configuration.CACHE_KEY))
    failures = seen.get(key, 0)
    if failures >= MAX_FAILURES:
        if cache.add(key + ":audited", 1, timeout=WINDOW_SECONDS):
            _audit(username, address, success=False, description="throttled: too many failures")
        raise LoginThrottled(f"too many failed logins; try again in {WINDOW_SECONDS // 60} minutes")
    try:
        with read_ahead.given({credential_key: seen.get(credential_key)}):
            user = _verify(username, password, address)
    except LoginRefused as exc:
        if exc.counts_as_failure:
            _count_failure(key)
        _audit(username, address, success=False, description=str(exc)[:200])
        raise
    if user is None:
        _count_failure(key)
        _audit(username, address, success=False, description="invalid username or password")
        return None
    if failures:
        cache.delete(key)
    if session:
        _audit(user.username, address, success=True, description="session")
    elif recorded_key not in seen and cache.add(recorded_key, 1, timeout=SUCCESS_WINDOW_SECONDS):
        _audit(user.username, address, success=True)
    return user
