"""Who may do what on a /v2 route: verify the bearer token, and explain refusals."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse

from accounts.models import User
from accounts.robots import RobotUser, active_robot, is_robot_name
from accounts.tokens import InvalidToken, TokenClaims, verify
from harbor_py.ops.readonly import registry_actions
from projects.selectors import find_project, project_access
from registry.names import project_of
from registry.oci import challenge, oci_error

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
    return explain_denial(claims, repository, action)


def principal(subject: str) -> User | RobotUser | None:
    """The user or robot a token was issued to, if it may still act."""
    if is_robot_name(subject):
        return active_robot(subject)
    return User.objects.filter(username=subject, is_active=True).first()


def explain_denial(claims: TokenClaims, repository: str, action: str) -> HttpResponse:
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
        # repository): the challenge makes clients fetch a token with this scope.
        return challenge(scope, error="insufficient_scope")
    return oci_error(403, "DENIED", "requested access to the resource is denied")
