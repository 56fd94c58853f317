from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.conf import settings

from accounts.keys import generate_signing_material
from tests.seaweedfs import SeaweedFS, running_seaweedfs


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
    """Forget this run's cached values. Only keys under this run's prefix: cache.clear()
    would flush the whole Redis database, and with it concurrent runs' keys."""
    from django.core.cache import cache

    client = cache._cache.get_client(write=True)
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
    if keys:
        client.delete(*keys)


@pytest.fixture(scope="session")
def seaweedfs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SeaweedFS]:
    """One real SeaweedFS S3 gateway for the session; tests make their own buckets."""
    with running_seaweedfs(tmp_path_factory.mktemp("seaweedfs")) as store:
        yield store
