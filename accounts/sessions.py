"""Ending a browser session, for the API's POST /c/log_out and the UI's sign-out alike: the
logout is audited in the transaction that ends the session."""

from __future__ import annotations

from django.contrib.auth import logout
from django.db import transaction
from django.http import HttpRequest

from audit.services import record
from harbor_py.core.actor import Actor


@transaction.atomic
def sign_out(request: HttpRequest, *, actor: Actor) -> None:
    if request.user.is_authenticated:
        record(actor=actor, operation="logout", resource_type="user", resource=actor.username)
    logout(request)
