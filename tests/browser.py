"""Debian's chromium through Playwright, for the browser tests of tests/e2e/: the browser,
a tab in a new context (its own cookies, language and screen size), signing in.

    with chromium() as browser:                       # skips the test without chromium
        context, tab = signed_in(browser, stack.url, ("admin", ADMIN_PASSWORD), locale="zh-CN")

Importing this module skips the importing test module when Playwright is not installed.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
LAPTOP = {"width": 1366, "height": 800}  # a laptop screen


def chromium_missing() -> str | None:
    """Why no browser can start here (to skip before starting anything else), or None."""
    if not os.path.exists(CHROMIUM):
        return "chromium is not installed (deploy/install-system.sh test)"
    return None


@contextmanager
def chromium() -> Iterator[Any]:
    if why := chromium_missing():
        pytest.skip(why)
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            yield browser
        finally:
            browser.close()


def new_tab(browser: Any, base_url: str, **options: Any) -> tuple[Any, Any]:
    """A tab in a new context of `browser` (Playwright's new_context `options`): (context,
    tab); each step may wait 20 s."""
    context = browser.new_context(base_url=base_url, **options)
    tab = context.new_page()
    tab.set_default_timeout(20_000)
    return context, tab


def sign_in(tab: Any, user: tuple[str, str]) -> None:
    """On the sign-in page: submit `user`'s name and password, wait until signed in."""
    tab.locator("#id_principal").fill(user[0])
    tab.locator("#id_password").fill(user[1])
    tab.locator("form.stacked button[type=submit]").click()
    playwright_api.expect(tab.locator("header.top nav")).to_have_count(1)


def signed_in(
    browser: Any, base_url: str, user: tuple[str, str], **options: Any
) -> tuple[Any, Any]:
    """A tab in a new context (as new_tab) signed in as `user`: (context, tab)."""
    context, tab = new_tab(browser, base_url, **options)
    tab.goto("/account/sign-in")
    sign_in(tab, user)
    return context, tab
