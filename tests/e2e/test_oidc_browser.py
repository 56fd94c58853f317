"""OIDC login in a real browser (Debian's chromium through Playwright) against a whole
instance of its own (the auth mode changes only while no user but admin exists) and a
real OpenID provider (the npm oidc-provider package, tests/oidc_op.py): "Login via
<oidc_name>" on the sign-in page, the provider's login and consent pages, back signed in
and onboarded; the profile shows the CLI secret, skopeo pushes with it; the secret is
regenerated and the old one stops working; sign-out; the local admin signs in with its
password."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import oidc_op
from tests.browser import chromium, chromium_missing, new_tab
from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, running_instance, skopeo

playwright_api = pytest.importorskip("playwright.sync_api")
# An instance of its own, the provider and chromium: about 100 s on the loaded machine.
pytestmark = pytest.mark.slow
ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def oidc_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Instance, object]]:
    if why := oidc_op.available():
        pytest.skip(why)
    if why := chromium_missing():
        pytest.skip(why)
    with running_instance(tmp_path_factory.mktemp("oidc-stack")) as instance:
        users = {"alice": {"groups": ["developers", "harbor-admins"], "name": "Alice A"}}
        callback = f"{instance.url}/c/oidc/callback"
        with oidc_op.OpenIdProvider(users=users, redirect_uris=[callback]) as provider:
            with instance.client(ADMIN) as api:
                response = api.put(
                    "/api/v2.0/configurations", json=provider.harbor_settings(oidc_logout=True)
                )
                response.raise_for_status()
                ping = api.post("/api/v2.0/system/oidc/ping", json={"url": provider.issuer})
                assert ping.status_code == 200, ping.text
            yield instance, provider


def test_sign_in_through_the_provider_and_push_with_the_cli_secret(oidc_stack, tmp_path: Path):
    stack, provider = oidc_stack
    expect = playwright_api.expect
    project = f"oidc-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    with chromium() as browser:
        _, page = new_tab(browser, stack.url, locale="en-US")

        page.goto("/account/sign-in")
        page.get_by_role("link", name="Login via TestOP").click()
        # The provider's own (development) login and consent pages.
        page.locator("input[name=login]").fill("alice")
        page.locator("input[name=password]").fill("any")
        page.locator("button[type=submit]").click()
        page.locator("button[type=submit]").click()  # consent: "Continue"
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

        page.get_by_role("link", name="alice").click()
        secret_box = page.get_by_label("CLI secret")
        expect(secret_box).to_be_visible()
        secret = secret_box.input_value()
        assert len(secret) == 32

        image = make_image(tmp_path / "img", layer_sizes=[20_000])
        repo = f"docker://{stack.host}/{project}/app"
        skopeo("copy", image.ref, f"{repo}:v1", creds=("alice", secret))
        tags = skopeo("list-tags", repo, creds=("alice", secret))
        assert '"v1"' in tags.stdout

        page.get_by_role("button", name="Generate a new CLI secret").click()
        expect(page.get_by_role("status")).to_be_visible()
        renewed = page.get_by_label("CLI secret").input_value()
        assert renewed != secret
        old = skopeo("inspect", f"{repo}:v1", creds=("alice", secret), check=False)
        assert old.returncode != 0
        skopeo("inspect", f"{repo}:v1", creds=("alice", renewed))

        # Sign-out ends the provider's session too (oidc_logout): the browser passes
        # through its end_session_endpoint (which may ask to confirm) and comes back.
        visited: list[str] = []
        page.on("framenavigated", lambda frame: visited.append(frame.url))
        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url(lambda url: "/account/sign-in" in url or "/session/end" in url)
        assert any(url.startswith(f"{provider.issuer}/session/end") for url in visited), visited
        if page.url.startswith(provider.issuer):
            page.locator("button[type=submit]").first.click()
        page.wait_for_url(f"{stack.url}/account/sign-in")
        page.get_by_label("Username or email").fill("admin")
        page.get_by_label("Password").fill(ADMIN_PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()
