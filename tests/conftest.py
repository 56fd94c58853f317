from __future__ import annotations

import pytest
from django.conf import settings

from accounts.keys import generate_signing_material


@pytest.fixture(scope="session", autouse=True)
def token_signing_material() -> None:
    """The pytest process mints and verifies tokens with keys of its own data dir."""
    generate_signing_material(
        settings.HARBOR["TOKEN_KEY_PATH"],
        settings.HARBOR["TOKEN_CERT_PATH"],
        settings.HARBOR["TOKEN_ISSUER"],
    )


@pytest.fixture(autouse=True)
def clean_cache() -> None:
    from django.core.cache import cache

    cache.clear()
