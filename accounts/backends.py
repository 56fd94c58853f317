"""The Django authentication backend, for the UI's session login (django.contrib.auth
authenticate() and login()): the same checks as the API and /service/token.

authenticate() goes through accounts.login (auth mode, LDAP, throttling). It lets
LoginThrottled and LoginRefused through so that the login view can show why; Django's
authenticate() returns None only for wrong credentials.

get_user() runs on every request of a session: under LDAP it gives back the sysadmin
role that the user's last directory login granted (ldap_group_admin_dn), under OIDC the
one of the admin group in the last sign-in's groups claim (oidc_admin_group); neither is
stored on the user row.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.backends import ModelBackend
from django.http import HttpRequest

from accounts import ldap_cache, oidc_auth
from accounts.ldap_auth import settings_or_unavailable
from accounts.login import authenticate_credentials
from accounts.login_errors import DirectoryUnavailable, LoginRefused
from accounts.models import User
from accounts.services import ADMIN_USERNAME
from harbor_py.core import configuration
from harbor_py.core.http import client_address


class HarborBackend(ModelBackend):
    def authenticate(
        self,
        request: HttpRequest | None,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> User | None:
        if username is None or password is None:
            return None
        if configuration.get("auth_mode") == "oidc_auth" and username != ADMIN_USERNAME:
            # The browser signs in through the provider; the CLI secret is for clients.
            raise LoginRefused("sign in through the OIDC provider; only admin has a password here")
        address = client_address(request) if request is not None else ""
        user = authenticate_credentials(username, password, address=address, session=True)
        return user if isinstance(user, User) else None  # robots have no UI session

    def get_user(self, user_id: int) -> User | None:
        user = super().get_user(user_id)
        if user is None:
            return user
        mode = configuration.get("auth_mode")
        if mode == "oidc_auth":
            if oidc_auth.session_admin_role(user.pk):
                user.grant_admin_role()
            return user
        if mode != "ldap_auth":
            return user
        try:
            config = settings_or_unavailable()
        except DirectoryUnavailable:
            return user
        if ldap_cache.session_admin_role(config, user.pk):
            user.grant_admin_role()
        return user
