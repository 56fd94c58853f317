"""OIDC logins (auth_mode oidc_auth): the browser's code flow and the CLI secret.

Browser: `begin` makes the authorization request (PKCE, state, nonce kept in the
session, accounts.oidc_provider); `complete` takes the callback: the state must be the
one this session is waiting for (and is consumed, so a replayed callback is refused), the
code is exchanged with the verifier, the ID token verified with the nonce. A known
identity signs in; a new one is onboarded at once (oidc_auto_onboard) or after it picked
a username (`Pending`, the onboard form).

Registry clients and the API: the username and the CLI secret. As in Harbor, the secret
works only while the user's refresh token is valid at the provider. Asking the provider on
every /service/token request would make every pull wait for it, so a good answer is
remembered for HARBOR_OIDC_TOKEN_CHECK_SECONDS (60) in the credential cache that
accounts.login reads in its one round trip (accounts.credentials): a revoked grant stops
the secret within that time, and a cached check costs what a local user's does. The
refresh that does the check is serialized per user (row lock), because providers that
rotate refresh tokens revoke the whole grant when an old one is used twice.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from django.conf import settings
from django.db import transaction

from accounts import credentials, oidc_provider, oidc_services
from accounts.login_errors import LoginRefused, ProviderUnavailable
from accounts.models import OIDCUserInfo, User, UserGroup
from accounts.oidc_provider import OidcSettings, ProviderError, TokenRefused
from accounts.oidc_services import Identity
from audit.services import record
from harbor_py.core import secretbox
from harbor_py.core.actor import Actor

logger = logging.getLogger(__name__)

SESSION_KEY = "oidc_flow"
PENDING_KEY = "oidc_pending"
TOKEN_KEY = "oidc_id_token"


class SignInRefused(Exception):
    """A sign-in through the provider that ends here, with the reason shown to the user
    (`key`, `params`: the UI's words for it, as a DomainError's)."""

    def __init__(
        self, message: str, *, key: str | None = None, params: Mapping[str, object] | None = None
    ) -> None:
        super().__init__(message)
        self.key = key
        self.params = dict(params or {})


def identity_of(config: OidcSettings, claims: dict[str, Any]) -> Identity:
    username_claim = config.user_claim or "name"
    username = claims.get(username_claim)
    if config.user_claim and not isinstance(username, str):
        raise SignInRefused(
            f"the ID token has no {config.user_claim} claim",
            key="oidc.claim_missing",
            params={"claim": config.user_claim},
        )
    groups: list[str] = []
    if config.groups_claim:
        raw = claims.get(config.groups_claim, [])
        groups = [raw] if isinstance(raw, str) else [g for g in raw if isinstance(g, str)]
    admin = bool(config.admin_group) and config.admin_group in groups
    if config.group_filter:
        pattern = re.compile(config.group_filter)
        groups = [g for g in groups if pattern.search(g)]
    email = claims.get("email")
    realname = claims.get("name")
    return Identity(
        subiss=f"{claims['sub']}{claims['iss']}",
        username=username if isinstance(username, str) else "",
        email=email if isinstance(email, str) else "",
        realname=realname if isinstance(realname, str) else "",
        groups=groups,
        admin=admin,
    )


def begin(session: Any, *, redirect_uri: str, next_url: str) -> str:
    """The provider's authorization URL; the flow's secrets wait in the session."""
    try:
        config = oidc_provider.current()
        request = oidc_provider.authorization(config, redirect_uri=redirect_uri)
    except ProviderError as exc:
        raise SignInRefused(
            f"the OIDC provider is unavailable: {exc}", key="oidc.provider_unavailable"
        ) from None
    session[SESSION_KEY] = {
        "state": request.state,
        "nonce": request.nonce,
        "verifier": request.code_verifier,
        "redirect_uri": redirect_uri,
        "next": next_url,
    }
    return request.url


@dataclass(frozen=True)
class Pending:
    """A new identity that must pick a username (oidc_auto_onboard off)."""

    identity: Identity
    next_url: str


def complete(
    session: Any, *, state: str, code: str, error: str, address: str
) -> tuple[User | Pending, str]:
    """The callback: (the signed-in user or Pending, where to go next)."""
    flow = session.pop(SESSION_KEY, None)  # one use: a replayed callback finds nothing
    if not isinstance(flow, dict) or not state or not hmac.compare_digest(flow["state"], state):
        raise SignInRefused(
            "the sign-in state is unknown or was already used; sign in again",
            key="oidc.state_unknown",
        )
    if error:
        raise SignInRefused(
            f"the OIDC provider refused the sign-in: {error[:100]}",
            key="oidc.provider_refused",
            params={"why": error[:100]},
        )
    if not code:
        raise SignInRefused("the OIDC provider sent no authorization code", key="oidc.no_code")
    config = oidc_provider.current()
    try:
        token = oidc_provider.exchange_code(
            config, code=code, code_verifier=flow["verifier"], redirect_uri=flow["redirect_uri"]
        )
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise SignInRefused("the OIDC provider sent no ID token", key="oidc.no_token")
        claims = oidc_provider.verify_id_token(config, id_token, nonce=flow["nonce"])
    except ProviderError as exc:
        raise SignInRefused(
            f"the OIDC provider is unavailable: {exc}", key="oidc.provider_unavailable"
        ) from None
    except TokenRefused as exc:
        raise SignInRefused(str(exc), key="oidc.token_refused", params={"why": str(exc)}) from None
    identity = identity_of(config, claims)
    session[TOKEN_KEY] = id_token
    info = OIDCUserInfo.objects.select_related("user").filter(subiss=identity.subiss).first()
    if info is not None:
        user = info.user
        if not user.is_active:
            raise SignInRefused(
                f"the user {user.username} is deactivated in Harbor",
                key="login.deactivated",
                params={"name": user.username},
            )
        oidc_services.signed_in(
            info=info, identity=identity, token=token, actor=Actor.of_user(user, address=address)
        )
        _audit_login(user, address)
        return _with_role(user, identity.admin), flow["next"]
    if not config.auto_onboard:
        session[PENDING_KEY] = {"identity": asdict(identity), "token": _sealed(token)}
        return Pending(identity=identity, next_url=flow["next"]), flow["next"]
    if not identity.username:
        raise SignInRefused(
            "the ID token names no user to onboard (oidc_user_claim)", key="oidc.no_username"
        )
    user = _onboard(identity, identity.username, token, address)
    _audit_login(user, address)
    return user, flow["next"]


def _sealed(token: dict[str, Any]) -> str:
    return oidc_services.sealed_tokens(token)


def pending(session: Any) -> Identity | None:
    waiting = session.get(PENDING_KEY)
    if not isinstance(waiting, dict):
        return None
    return Identity(**waiting["identity"])


def finish_onboarding(session: Any, *, username: str, address: str) -> User:
    """The onboard form: the new identity takes `username`. Raises DomainError (the name
    is invalid or taken) and SignInRefused (nothing waits)."""
    waiting = session.get(PENDING_KEY)
    if not isinstance(waiting, dict):
        raise SignInRefused(
            "no OIDC sign-in is waiting for a username; sign in again", key="oidc.state_unknown"
        )
    identity = Identity(**waiting["identity"])
    try:
        token = json.loads(secretbox.decrypt(waiting["token"]))
    except ValueError:
        token = {}
    user = _onboard(identity, username, token, address)
    session.pop(PENDING_KEY, None)
    _audit_login(user, address)
    return user


def _onboard(identity: Identity, username: str, token: dict[str, Any], address: str) -> User:
    user = oidc_services.onboard(
        identity=identity,
        username=username,
        token=token,
        actor=Actor(username=username.strip(), client_address=address),
    )
    return _with_role(user, identity.admin)


def _with_role(user: User, admin: bool) -> User:
    if admin:
        user.grant_admin_role()
    return user


def session_admin_role(user_id: int) -> bool:
    """For accounts.backends: the admin group's verdict of the user's last sign-in."""
    return OIDCUserInfo.objects.filter(user_id=user_id, admin_in_auth=True).exists()


# --- the CLI secret -------------------------------------------------------------------


def authenticate_cli_secret(username: str, password: str, *, address: str = "") -> User | None:
    """The user whose CLI secret this is, while its grant is valid at the provider; None
    for a wrong name or secret. Raises LoginRefused (grant no longer valid) and
    ProviderUnavailable."""
    if not username or not password or len(password) > 1024:
        return None
    info = (
        OIDCUserInfo.objects.select_related("user")
        .filter(user__username=username, user__is_active=True)
        .first()
    )
    if info is None:
        return None
    user = info.user

    def check(presented: str) -> bool:
        try:
            stored = secretbox.decrypt(info.secret)
        except ValueError:
            return False
        if not hmac.compare_digest(stored.encode(), presented.encode()):
            return False
        _check_grant(info, address)
        return True

    if not credentials.check_cached(
        username=username,
        subject=f"oidc:{user.pk}",
        stored_hash=info.secret + ("|admin" if info.admin_in_auth else ""),
        password=password,
        check=check,
        timeout=settings.HARBOR["OIDC_TOKEN_CHECK_SECONDS"],
    ):
        return None
    return _with_role(user, info.admin_in_auth)


def _check_grant(info: OIDCUserInfo, address: str) -> None:
    """Refresh the user's tokens at the provider (serialized per user): the grant is still
    valid, or LoginRefused."""
    config = oidc_provider.current()
    with transaction.atomic():
        locked = OIDCUserInfo.objects.select_for_update().select_related("user").get(pk=info.pk)
        if locked.update_time > info.update_time and locked.token:
            # Another request refreshed while this one waited for the lock.
            info.admin_in_auth = locked.admin_in_auth
            return
        refresh_token = oidc_services.opened_tokens(locked).get("refresh_token")
        if not refresh_token:
            raise LoginRefused(
                f"the OIDC session of {locked.user.username} has ended; sign in through the "
                "browser again to use the CLI secret"
            )
        try:
            token = oidc_provider.refresh(config, refresh_token=refresh_token)
        except ProviderError as exc:
            raise ProviderUnavailable(f"the OIDC provider is unavailable: {exc}") from None
        except TokenRefused:
            oidc_services.forget_tokens(info=locked)
            refused = True
        else:
            refused = False
            token.setdefault("refresh_token", refresh_token)
            identity = _refreshed_identity(config, locked, token)
            oidc_services.signed_in(
                info=locked,
                identity=identity,
                token=token,
                actor=Actor.of_user(locked.user, address=address),
            )
            info.admin_in_auth = locked.admin_in_auth
    if refused:
        raise LoginRefused(
            f"the OIDC grant of {info.user.username} is no longer valid at the provider; "
            "sign in through the browser again"
        )


def _refreshed_identity(
    config: OidcSettings, info: OIDCUserInfo, token: dict[str, Any]
) -> Identity:
    """The groups and the admin verdict of the refreshed ID token, if the provider sent
    one that verifies; otherwise those of the last sign-in stay."""
    id_token = token.get("id_token")
    if isinstance(id_token, str):
        try:
            claims = oidc_provider.verify_id_token(config, id_token, nonce=None)
        except (ProviderError, TokenRefused) as exc:
            logger.warning("refreshed ID token of user %s ignored: %s", info.user_id, exc)
        else:
            identity = identity_of(config, claims)
            if identity.subiss == info.subiss:
                return identity
    groups = list(
        info.user.user_groups.filter(group_type=UserGroup.GroupType.OIDC).values_list(
            "group_name", flat=True
        )
    )
    return Identity(
        subiss=info.subiss,
        username=info.user.username,
        email=info.user.email,
        realname=info.user.realname,
        groups=groups,
        admin=info.admin_in_auth,
    )


def cli_secret_of(user: User) -> str | None:
    """The user's CLI secret, for its owner's profile; None for users not from OIDC."""
    info = OIDCUserInfo.objects.filter(user_id=user.pk).first()
    return None if info is None else oidc_services.cli_secret(info)


def end_session_url(*, id_token: str, after: str) -> str | None:
    return oidc_provider.end_session_url(oidc_provider.current(), id_token=id_token, after=after)


def _audit_login(user: User, address: str) -> None:
    record(
        actor=Actor.of_user(user, address=address),
        operation="login",
        resource_type="user",
        resource=user.username,
        description="session via OIDC provider",
    )
