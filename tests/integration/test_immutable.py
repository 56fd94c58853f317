"""Tag immutability: Harbor's rule API, and refusals on the registry protocol (a real
distribution behind the gate) and the API alike. The matching rules: tests/unit."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from immutable.enforcement import TagImmutable
from immutable.models import ImmutableRule
from projects.roles import Role
from registry.models import Artifact, Repository, Tag
from tests.contract import assert_matches
from tests.distribution import bearer, push_image
from tests.integration.conftest import assert_harbor_error
from tests.integration.registry_data import image, parsed_image
from tests.integration.test_registry_gate import get, oci_error

pytest_plugins = ["tests.distribution_plugin"]


def rule(tags: str = "v*", repos: str = "**", *, tag_decoration: str = "matches", **extra):
    return {
        "action": "immutable",
        "template": "immutable_template",
        "tag_selectors": [{"kind": "doublestar", "decoration": tag_decoration, "pattern": tags}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": repos}]
        },
        **extra,
    }


@pytest.fixture
def world(make_user, make_project, client_for):
    owner, developer = make_user("owner"), make_user()
    project = make_project("demo", owner=owner, members={developer: Role.DEVELOPER})
    return {
        "project": project,
        "owner": client_for(owner),
        "developer": client_for(developer),
    }


RULES = "/api/v2.0/projects/demo/immutabletagrules"


@pytest.mark.django_db
def test_rule_api_create_list_update_delete(world):
    created = world["owner"].post(RULES, rule(), format="json")
    assert created.status_code == 201
    rule_id = int(created["Location"].rsplit("/", 1)[1])
    listed = world["owner"].get(RULES)
    assert_matches("ListImmuRules", listed, 200)
    assert listed.json()[0]["tag_selectors"][0]["pattern"] == "v*"
    assert listed.json()[0]["disabled"] is False
    toggled = world["owner"].put(f"{RULES}/{rule_id}", {"disabled": True}, format="json")
    assert toggled.status_code == 200
    assert ImmutableRule.objects.get(pk=rule_id).disabled
    changed = world["owner"].put(f"{RULES}/{rule_id}", rule("release-*"), format="json")
    assert changed.status_code == 200
    assert ImmutableRule.objects.get(pk=rule_id).tag_selectors[0]["pattern"] == "release-*"
    assert AuditLog.objects.filter(resource_type="immutable_rule").count() == 3
    assert world["owner"].delete(f"{RULES}/{rule_id}").status_code == 200
    assert not ImmutableRule.objects.exists()
    assert_harbor_error(world["owner"].delete(f"{RULES}/{rule_id}"), 404)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {"tag_selectors": []},
        rule(tag_decoration="sometimes"),
        rule("{v1"),
        {**rule(), "scope_selectors": {"label": []}},
        {**rule(), "tag_selectors": [{"kind": "regex", "decoration": "matches", "pattern": "v"}]},
        [],
    ],
)
def test_bad_rules_are_400(world, body):
    assert_harbor_error(world["owner"].post(RULES, body, format="json"), 400)
    assert not ImmutableRule.objects.exists()


@pytest.mark.django_db
def test_duplicates_limit_and_permissions(world):
    assert world["owner"].post(RULES, rule(), format="json").status_code == 201
    assert_harbor_error(world["owner"].post(RULES, rule(), format="json"), 409)
    for i in range(14):
        assert world["owner"].post(RULES, rule(f"t{i}"), format="json").status_code == 201
    assert_harbor_error(world["owner"].post(RULES, rule("one-more"), format="json"), 400)
    assert_harbor_error(world["developer"].post(RULES, rule("dev"), format="json"), 403)
    assert_harbor_error(world["developer"].get(RULES), 403)
    assert ImmutableRule.objects.count() == 15


@pytest.mark.django_db
def test_api_refuses_deleting_protected_tags_artifacts_and_repositories(world):
    v1 = image(world["project"], "app", "v1")
    image(world["project"], "app", "latest")
    world["owner"].post(RULES, rule(), format="json")
    base = "/api/v2.0/projects/demo/repositories/app/artifacts"
    refused = world["owner"].delete(f"{base}/{v1.digest}/tags/v1")
    assert "configured as immutable" in assert_harbor_error(refused, 412, "PRECONDITION")["message"]
    assert_harbor_error(world["owner"].delete(f"{base}/{v1.digest}"), 412, "PRECONDITION")
    assert_harbor_error(
        world["owner"].delete("/api/v2.0/projects/demo/repositories/app"), 412, "PRECONDITION"
    )
    assert Tag.objects.filter(name="v1").exists() and Repository.objects.filter().exists()
    # Tags listed with their immutability; `latest` is not protected and goes.
    artifacts = world["owner"].get(base, {"with_tag": "true"}).json()
    flags = {t["name"]: t["immutable"] for a in artifacts for t in a["tags"]}
    assert flags == {"v1": True, "latest": False}
    latest = Artifact.objects.get(tags__name="latest")
    assert world["owner"].delete(f"{base}/{latest.digest}/tags/latest").status_code == 200


@pytest.mark.django_db
def test_disabled_or_non_matching_rules_do_not_protect(world):
    v1 = image(world["project"], "app", "v1")
    world["owner"].post(RULES, rule(repos="other/**"), format="json")
    world["owner"].post(RULES, rule("v1", disabled=True), format="json")
    base = "/api/v2.0/projects/demo/repositories/app/artifacts"
    assert world["owner"].delete(f"{base}/{v1.digest}/tags/v1").status_code == 200


@pytest.mark.django_db
def test_registry_delete_of_a_protected_tag_or_its_artifact_is_412(world):
    v1 = image(world["project"], "app", "v1")
    world["owner"].post(RULES, rule(), format="json")
    token = bearer("owner", "demo/app", {"pull", "delete"})
    oci_error(get("/v2/demo/app/manifests/v1", token, "delete"), 412, "PRECONDITION")
    oci_error(get(f"/v2/demo/app/manifests/{v1.digest}", token, "delete"), 412, "PRECONDITION")
    assert Tag.objects.filter(name="v1").exists()


@pytest.mark.django_db
def test_registry_push_cannot_move_a_protected_tag(world, distribution):
    push_image("owner", "demo/app", "v1")
    first = Tag.objects.get(name="v1").artifact.digest
    world["owner"].post(RULES, rule(), format="json")
    with pytest.raises(AssertionError) as refused:
        push_image("owner", "demo/app", "v1")
    assert "configured as immutable" in str(refused.value)
    assert Tag.objects.get(name="v1").artifact.digest == first
    push_image("owner", "demo/app", "dev")  # unprotected tags still move freely
    push_image("owner", "demo/app", "dev")
    push_image("owner", "demo/app", "v2")  # a new protected tag may be created


@pytest.mark.django_db
def test_same_digest_may_be_pushed_again_and_copy_cannot_move_the_tag(world):
    from registry import services

    v1 = image(world["project"], "app", "v1")
    other = image(world["project"], "app", None)
    world["owner"].post(RULES, rule(), format="json")
    services.attach_tags(artifact=v1, names=["v1"], username="u")  # same digest: fine
    with pytest.raises(TagImmutable):
        services.attach_tags(artifact=other, names=["v1"], username="u")
    assert Tag.objects.get(name="v1").artifact_id == v1.pk


@pytest.mark.django_db
def test_two_first_pushes_of_a_new_protected_tag_cannot_both_win(world):
    """Both pass reserve() (the tag does not exist yet); the tag write decides."""
    from registry import push

    world["owner"].post(RULES, rule(), format="json")
    project = world["project"]
    first, second = (
        push.reserve(project=project, repository_name="demo/app", parsed=parsed_image(s), tag="v1")
        for s in ("a", "b")
    )
    push.complete(reservation=first, tag="v1", username="ci-1")
    with pytest.raises(TagImmutable):
        push.complete(reservation=second, tag="v1", username="ci-2")
    assert Tag.objects.get(name="v1").artifact_id == first.artifact.pk
    push.complete(reservation=first, tag="v1", username="ci-1")  # the same digest again: fine
    assert Tag.objects.get(name="v1").artifact_id == first.artifact.pk


@pytest.mark.django_db
def test_a_new_tag_is_one_insert_and_a_moved_tag_reads_the_rules(world):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from registry import push

    world["owner"].post(RULES, rule(), format="json")  # protects v*, not dev
    project = world["project"]

    def complete(serial: str, tag: str) -> list[str]:
        reservation = push.reserve(
            project=project, repository_name="demo/app", parsed=parsed_image(serial), tag=tag
        )
        with CaptureQueriesContext(connection) as queries:
            push.complete(reservation=reservation, tag=tag, username="ci")
        return [q["sql"] for q in queries.captured_queries]

    new_tag = complete("a", "dev")
    assert not any("immutable_tag_rule" in sql for sql in new_tag)
    assert sum(sql.startswith('INSERT INTO "tag"') for sql in new_tag) == 1
    moved = complete("b", "dev")
    assert any("immutable_tag_rule" in sql for sql in moved)
    assert Tag.objects.get(name="dev").artifact.digest == parsed_image("b").digest
    complete("c", "v9")  # a new protected tag may be created
    with pytest.raises(TagImmutable):
        complete("d", "v9")
