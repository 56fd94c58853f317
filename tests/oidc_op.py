"""A real OpenID provider for the OIDC tests: the npm `oidc-provider` package
(tests/oidc_provider/server.mjs, installed by `make test-deps` with `npm ci`), started on a
free loopback port with the given users (and their groups claim) and clients.

`sign_in(authorization_url, username)` plays the browser at the provider without one
(its development login and consent forms, over httpx) and returns the callback URL the
provider redirects to; the e2e test drives the same pages in chromium. `rotate()`,
`tamper(claims)` and `down(bool)` are the server's test controls (see server.mjs).
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx

HERE = Path(__file__).resolve().parent / "oidc_provider"
CLIENT_ID = "harbor"
CLIENT_SECRET = "harbor-client-secret-for-tests"


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def available() -> str | None:
    """Why the provider cannot run here, or None."""
    if shutil.which("node") is None:
        return "node is not installed (deploy/install-system.sh test)"
    if not (HERE / "node_modules" / "oidc-provider").is_dir():
        return "tests/oidc_provider has no node_modules (make test-deps runs npm ci)"
    return None


class OpenIdProvider:
    def __init__(self, *, users: dict[str, dict[str, Any]], redirect_uris: list[str]) -> None:
        self.users = users
        self.port = _free_port()
        self.issuer = f"http://127.0.0.1:{self.port}"
        self.redirect_uris = redirect_uris
        self.process: subprocess.Popen[str] | None = None

    def __enter__(self) -> OpenIdProvider:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        client = {
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uris": self.redirect_uris,
            "post_logout_redirect_uris": [
                uri.replace("/c/oidc/callback", "/account/sign-in") for uri in self.redirect_uris
            ],
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
            "token_endpoint_auth_method": "client_secret_basic",
        }
        config = {"clients": [client], "users": self.users}
        env = {**os.environ, "OP_PORT": str(self.port), "OP_CONFIG": json.dumps(config)}
        self.process = subprocess.Popen(
            ["node", "server.mjs"],
            cwd=HERE,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                output = self.process.stdout.read() if self.process.stdout else ""
                raise RuntimeError(f"the OIDC provider exited:\n{output}")
            try:
                if httpx.get(self.discovery_url, timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("the OIDC provider did not start within 30 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def _control(self, what: str, body: object = None) -> dict[str, Any]:
        response = httpx.post(f"{self.issuer}/__test/{what}", json=body or {}, timeout=10)
        response.raise_for_status()
        return dict(response.json())

    def rotate(self) -> list[str]:
        """A new signing key; returns the key ids, the signing one first."""
        return list(self._control("rotate")["kids"])

    def tamper(self, claims: dict[str, Any]) -> None:
        self._control("tamper", claims)

    def set_users(self, users: dict[str, dict[str, Any]]) -> None:
        self._control("users", users)

    def down(self, down: bool) -> None:
        self._control("down", {"down": down})

    def harbor_settings(self, **overrides: object) -> dict[str, object]:
        """The configuration of an instance under oidc_auth against this provider."""
        return {
            "auth_mode": "oidc_auth",
            "oidc_name": "TestOP",
            "oidc_endpoint": self.issuer,
            "oidc_client_id": CLIENT_ID,
            "oidc_client_secret": CLIENT_SECRET,
            "oidc_scope": "openid,offline_access,profile,email,groups",
            "oidc_verify_cert": False,
            "oidc_auto_onboard": True,
            "oidc_user_claim": "preferred_username",
            "oidc_groups_claim": "groups",
            "oidc_admin_group": "harbor-admins",
            **overrides,
        }

    def revoke(self, refresh_token: str) -> None:
        """RFC 7009 revocation of a refresh token (the provider revokes its grant)."""
        response = httpx.post(
            f"{self.issuer}/token/revocation",
            data={"token": refresh_token, "token_type_hint": "refresh_token"},
            auth=(CLIENT_ID, CLIENT_SECRET),
            timeout=10,
        )
        response.raise_for_status()

    def sign_in(self, authorization_url: str, username: str) -> str:
        """Log in at the provider and consent; the URL it redirects the browser to."""
        with httpx.Client(timeout=10) as browser:
            url, method, data = authorization_url, "GET", None
            for _ in range(20):
                response = browser.request(method, url, data=data)
                if response.is_redirect:
                    target = urljoin(url, response.headers["location"])
                    if not target.startswith(self.issuer):
                        return target
                    url, method, data = target, "GET", None
                    continue
                if response.status_code != 200:
                    raise AssertionError(f"the provider answered {response.status_code}: {url}")
                action, fields = _form(response.text)
                if 'name="login"' in response.text:
                    fields.update({"login": username, "password": "any"})
                url, method, data = urljoin(url, action), "POST", fields
            raise AssertionError("the provider never redirected back")


def _form(page: str) -> tuple[str, dict[str, str]]:
    match = re.search(r"<form[^>]*action=\"([^\"]+)\"", page)
    if not match:
        raise AssertionError(f"no form on the provider's page:\n{page[:500]}")
    fields = {
        html.unescape(name): html.unescape(value)
        for name, value in re.findall(
            r"<input[^>]*type=\"hidden\"[^>]*name=\"([^\"]+)\"[^>]*value=\"([^\"]*)\"", page
        )
    }
    return html.unescape(match.group(1)), fields
