"""Writes about OIDC users (auth_mode oidc_auth): onboarding, their OIDC user groups, the
provider's tokens and the CLI secret. Each runs in one transaction with its audit record.
Secrets and tokens are stored encrypted (harbor_py.core.secretbox)."""

from __future__ import annotations

import json
import re
import secrets
import string
from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Any

from django.db import IntegrityError, transaction

from accounts.group_services import relink_groups
from accounts.models import OIDCUserInfo, User, UserGroup
from accounts.services import ADMIN_USERNAME, record_user, validate_username
from audit.services import record
from harbor_py.core import secretbox
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request, conflict

ONBOARD_COMMENT = "Onboarded via OIDC provider"
SECRET_LENGTH = 32
_SECRET_RULE = re.compile(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,128}$")


@dataclass(frozen=True)
class Identity:
    """Who the provider says signed in, from the verified ID token."""

    subiss: str
    username: str
    email: str
    realname: str
    groups: list[str] = field(default_factory=list)
    admin: bool = False


def generate_secret() -> str:
    """Harbor's rule for CLI secrets holds: upper and lower case letters and digits."""
    alphabet = string.ascii_letters + string.digits
    while True:
        secret = "".join(secrets.choice(alphabet) for _ in range(SECRET_LENGTH))
        if _SECRET_RULE.match(secret):
            return secret


def secret_problem(secret: str) -> str | None:
    if not _SECRET_RULE.match(secret):
        return (
            "the CLI secret must be 8 to 128 characters with at least one uppercase "
            "letter, one lowercase letter and one digit"
        )
    return None


def sealed_tokens(token: dict[str, Any]) -> str:
    kept = {k: token[k] for k in ("refresh_token", "id_token", "expires_at") if k in token}
    return secretbox.encrypt(json.dumps(kept))


def opened_tokens(info: OIDCUserInfo) -> dict[str, Any]:
    if not info.token:
        return {}
    try:
        value = json.loads(secretbox.decrypt(info.token))
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


@transaction.atomic
def onboard(*, identity: Identity, username: str, token: dict[str, Any], actor: Actor) -> User:
    """A new Harbor user for a provider identity, with its CLI secret; Harbor refuses a
    name or an identity that is taken."""
    username = username.strip()
    validate_username(username)
    if username == ADMIN_USERNAME or User.objects.filter(username=username).exists():
        raise conflict(
            f"the username {username} is already taken",
            key="user.name_taken",
            params={"name": username},
        )
    if OIDCUserInfo.objects.filter(subiss=identity.subiss).exists():
        raise conflict("this OIDC identity is already onboarded", key="oidc.onboarded_already")
    try:
        with transaction.atomic():
            user = User(
                username=username,
                email=identity.email[:255],
                realname=identity.realname[:255],
                comment=ONBOARD_COMMENT,
            )
            user.set_unusable_password()
            user.save()
            OIDCUserInfo.objects.create(
                user=user,
                subiss=identity.subiss,
                secret=secretbox.encrypt(generate_secret()),
                token=sealed_tokens(token),
                admin_in_auth=identity.admin,
            )
    except IntegrityError:
        raise conflict(
            f"the username {username} is already taken",
            key="user.name_taken",
            params={"name": username},
        ) from None
    record_user(user, actor, "create", "onboarded via OIDC")
    sync_groups(user=user, names=identity.groups, actor=actor)
    return user


@transaction.atomic
def signed_in(
    *, info: OIDCUserInfo, identity: Identity, token: dict[str, Any], actor: Actor
) -> None:
    """A sign-in or a token refresh of an onboarded user: keep the new tokens, the admin
    group's verdict and the groups of the claim."""
    info.token = sealed_tokens(token)
    info.admin_in_auth = identity.admin
    info.save(update_fields=["token", "admin_in_auth", "update_time"])
    sync_groups(user=info.user, names=identity.groups, actor=actor)


@transaction.atomic
def sync_groups(*, user: User, names: Collection[str], actor: Actor) -> None:
    """Link the user to the OIDC user groups named by the groups claim (created on first
    sight, as Harbor does), and unlink the OIDC groups it left."""
    wanted: set[int] = set()
    for name in {n[:255] for n in names if n}:
        group = UserGroup.objects.filter(
            group_type=UserGroup.GroupType.OIDC, group_name=name
        ).first()
        if group is None:
            group = UserGroup.objects.create(group_type=UserGroup.GroupType.OIDC, group_name=name)
            record(actor=actor, operation="create", resource_type="user_group", resource=name)
        wanted.add(group.pk)
    relink_groups(user=user, kind=UserGroup.GroupType.OIDC, wanted=wanted, actor=actor)


@transaction.atomic
def set_cli_secret(*, user: User, secret: str, actor: Actor) -> None:
    """PUT /users/{id}/cli_secret and the profile's "regenerate": the old secret stops
    working at once (the credential cache is keyed on the stored secret)."""
    if problem := secret_problem(secret):
        raise bad_request(problem, key="oidc.secret_weak")
    info = OIDCUserInfo.objects.select_for_update().filter(user=user).first()
    if info is None:
        raise bad_request(
            f"the user {user.username} is not onboarded via OIDC",
            key="oidc.not_onboarded",
            params={"user": user.username},
        )
    info.secret = secretbox.encrypt(secret)
    info.save(update_fields=["secret", "update_time"])
    record_user(user, actor, "update", "CLI secret changed")


@transaction.atomic
def forget_tokens(*, info: OIDCUserInfo) -> None:
    """The provider no longer honours the refresh token: drop it."""
    info.token = ""
    info.save(update_fields=["token", "update_time"])


def cli_secret(info: OIDCUserInfo) -> str:
    """The CLI secret in clear, for its owner's profile."""
    try:
        return secretbox.decrypt(info.secret)
    except ValueError:
        return ""
