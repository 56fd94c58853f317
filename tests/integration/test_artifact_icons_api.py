"""The icon API of Harbor's artifact types (registry.icons) against Harbor's contract."""

from __future__ import annotations

import pytest

from registry import artifact_types, icons
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error


@pytest.mark.django_db
def test_icon_api(client_for, make_user) -> None:
    client = client_for(make_user("viewer"))
    response = client.get(f"/api/v2.0/icons/{artifact_types.ICON_CHART}")
    assert_matches("getIcon", response, 200)
    assert response.json() == icons.icon(artifact_types.ICON_CHART)
    assert_harbor_error(client.get("/api/v2.0/icons/sha256:" + "0" * 64), 404, "NOT_FOUND")
    assert_harbor_error(client.get("/api/v2.0/icons/not-a-digest"), 400, "BAD_REQUEST")
