"""The gate's pull-policy hook (registry/pull_policy.py): a registered check refuses a
manifest GET with Harbor's 412 PROJECT_POLICY_VIOLATION; HEAD and other projects pass."""

from __future__ import annotations

import pytest

from registry import pull_policy
from registry.models import Tag
from tests.distribution import bearer, push_image
from tests.integration.test_registry_gate import get, oci_error

pytest_plugins = ["tests.distribution_plugin"]


@pytest.fixture
def refusing_check():
    seen: list[pull_policy.PullRequest] = []

    def check(request: pull_policy.PullRequest) -> str | None:
        seen.append(request)
        if request.metadata.get("test_policy") != "true":
            return None
        return f"{request.artifact.digest} refused by the test policy"

    pull_policy.register("test", check)
    yield seen
    pull_policy.unregister("test")


@pytest.mark.django_db
def test_a_check_refuses_a_manifest_get_with_412(
    make_user, make_project, refusing_check, distribution
):
    owner = make_user("owner")
    project = make_project("demo", owner=owner, members={})
    project.metadata = {"test_policy": "true"}
    project.save()
    push_image("owner", "demo/app", "v1")
    digest = Tag.objects.get(name="v1").artifact.digest
    token = bearer("owner", "demo/app", {"pull"})

    error = oci_error(get("/v2/demo/app/manifests/v1", token), 412, "PROJECT_POLICY_VIOLATION")
    assert error is not None and error["message"] == f"{digest} refused by the test policy"
    assert refusing_check[-1].subject == "owner"
    assert refusing_check[-1].artifact.digest == digest
    assert get("/v2/demo/app/manifests/v1", token, "head").status_code == 200

    project.metadata = {}
    project.save()
    assert get("/v2/demo/app/manifests/v1", token).status_code == 200


def test_a_name_is_registered_once():
    pull_policy.register("once", lambda request: None)
    try:
        with pytest.raises(pull_policy.DuplicateCheck):
            pull_policy.register("once", lambda request: "no")
    finally:
        pull_policy.unregister("once")
