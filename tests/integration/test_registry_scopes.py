"""A token that lacks a scope its holder does have gets the 401 challenge with
`insufficient_scope`, on which clients fetch a new token; refusals of what the caller may
not do stay 403 DENIED, and private projects stay 404 NAME_UNKNOWN (issue #20)."""

from __future__ import annotations

import pytest
from django.test import Client

from projects.roles import Role
from tests.distribution import bearer
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db


@pytest.fixture
def demo(make_user, make_project):
    owner, guest = make_user("owner"), make_user("guest")
    project = make_project("demo", owner=owner, members={guest: Role.GUEST})
    image(project, "app", "v1")
    make_project("secret", owner=owner)
    return project


def challenged(response, scope: str) -> None:
    assert response.status_code == 401, response.content
    header = response["WWW-Authenticate"]
    assert 'error="insufficient_scope"' in header
    assert f'scope="{scope}"' in header
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_a_token_for_another_repository_gets_a_challenge_on_manifest_get(demo):
    token = bearer("owner", "demo/other", {"pull", "push"})
    response = Client().get("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=token)
    challenged(response, "repository:demo/app:pull")


def test_a_pull_token_gets_a_challenge_on_upload_start_when_the_user_may_push(demo):
    token = bearer("owner", "demo/app", {"pull"})
    response = Client().post("/v2/demo/app/blobs/uploads/", HTTP_AUTHORIZATION=token)
    challenged(response, "repository:demo/app:pull,push")


def test_the_same_token_sent_again_gets_403_with_the_challenge(demo):
    """The oras Python SDK retries a 401 with the token it has and fetches a new one only
    after a 403; spec clients fetch a new token on the 401 and never send this one again."""
    token = bearer("owner", "demo/other", {"pull"})
    challenged(
        Client().get("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=token),
        "repository:demo/app:pull",
    )
    again = Client().get("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=token)
    assert again.status_code == 403
    assert again.json()["errors"][0]["code"] == "DENIED"
    assert 'error="insufficient_scope"' in again["WWW-Authenticate"]
    assert 'scope="repository:demo/app:pull"' in again["WWW-Authenticate"]
    other = bearer("owner", "demo/other", {"pull", "push"})
    challenged(
        Client().get("/v2/demo/app/manifests/v1", HTTP_AUTHORIZATION=other),
        "repository:demo/app:pull",
    )


def test_what_the_user_may_not_do_stays_denied(demo):
    token = bearer("guest", "demo/app", {"pull"})
    response = Client().post("/v2/demo/app/blobs/uploads/", HTTP_AUTHORIZATION=token)
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == "DENIED"
    put = Client().put(
        "/v2/demo/app/manifests/v2", b"{}", "application/json", HTTP_AUTHORIZATION=token
    )
    assert put.status_code == 403


def test_a_private_project_still_answers_like_a_missing_one(demo):
    token = bearer("guest", "secret/app", {"pull"})
    for path in ("/v2/secret/app/manifests/v1", "/v2/nothere/app/manifests/v1"):
        response = Client().get(path, HTTP_AUTHORIZATION=token)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NAME_UNKNOWN"
