"""Who may do what on a /v2 route: verify the bearer token, and explain refusals."""

from __future__ import annotations

import hashlib

from django.core.cache import cache
from django.http import HttpRequest, HttpResponse
from redis.exceptions import RedisError

from accounts.models import User
from accounts.robots import RobotUser, active_robot, is_robot_name
from accounts.tokens import InvalidToken, TokenClaims, verify
from harbor_py.core.oci import challenge, challenge_header, oci_error
from harbor_py.core.readonly import registry_actions
from projects.selectors import find_project, project_access
from registry.names import project_of

RETRY_WINDOW = 60  # seconds: a token re-sent for a scope it lacks gets 403 (see below)
ACTIONS_BY_METHOD = {
    "GET": "pull",
    "HEAD": "pull",
    "POST": "push",
    "PATCH": "push",
    "PUT": "push",
    "DELETE": "delete",
}


def scope_for(repository: str, action: str) -> str:
    actions = "pull,push" if action == "push" else action
    return f"repository:{repository}:{actions}"


def bearer_token(request: HttpRequest) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.lower().startswith("bearer "):
        return None
    return header[7:].strip()


def bearer_claims(request: HttpRequest) -> TokenClaims | InvalidToken | None:
    raw = bearer_token(request)
    if raw is None:
        return None
    try:
        return verify(raw)
    except InvalidToken as exc:
        return exc


def authorize(request: HttpRequest, repository: str, action: str) -> TokenClaims | HttpResponse:
    claims = bearer_claims(request)
    scope = scope_for(repository, action)
    if claims is None:
        return challenge(scope)
    if isinstance(claims, InvalidToken):
        return challenge(scope, error="invalid_token")
    if claims.allows("repository", repository, action):
        return claims
    return explain_denial(claims, repository, action, bearer_token(request))


def principal(subject: str) -> User | RobotUser | None:
    """The user or robot a token was issued to, if it may still act."""
    if is_robot_name(subject):
        return active_robot(subject)
    return User.objects.filter(username=subject, is_active=True).first()


def explain_denial(
    claims: TokenClaims, repository: str, action: str, token: str | None = None
) -> HttpResponse:
    """Refuse so that a private project is indistinguishable from a missing one."""
    scope = scope_for(repository, action)
    user = principal(claims.subject) if claims.subject else None
    if user is None:
        return challenge(scope, error="insufficient_scope")
    project = find_project(project_of(repository), is_name=True)
    access = project_access(user, project) if project is not None else None
    if access is None or not access.visible:
        return oci_error(
            404, "NAME_UNKNOWN", f"repository name not known to registry: {repository}"
        )
    if action in registry_actions(access.registry_actions()):
        # The caller may do it, this token just does not say so (issued for another
        # repository, or pull only before a push).
        return _insufficient_scope(token or "", scope)
    return oci_error(403, "DENIED", "requested access to the resource is denied")


def _insufficient_scope(token: str, scope: str) -> HttpResponse:
    """401 with the `insufficient_scope` challenge: clients fetch a token with this scope
    and retry. A client that sends the same token for the same scope again within a minute
    gets 403 with the same challenge: the oras Python SDK (0.2) retries a 401 with the token
    it has and fetches a new one only after a 403."""
    key = "insufficient-scope:" + hashlib.sha256(f"{token}\0{scope}".encode()).hexdigest()
    try:
        first = cache.add(key, 1, timeout=RETRY_WINDOW)
    except RedisError:
        first = True
    if first:
        return challenge(scope, error="insufficient_scope")
    response = oci_error(403, "DENIED", f"the token does not grant {scope}; fetch a new one")
    response["WWW-Authenticate"] = challenge_header(scope, "insufficient_scope")
    return response
