"""The artifact group: list/get/delete/copy artifacts, tags, accessories, additions,
artifact labels, and /projects/{project_name_or_id}/artifacts."""

from __future__ import annotations

import json

import jsonschema
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from projects.roles import Role
from registry import upstream
from registry.models import Artifact, ArtifactLabel, Label, Repository, Tag
from tests.contract import assert_matches, response_schema
from tests.distribution import push_image, push_index, stored_manifest
from tests.integration.conftest import assert_harbor_error
from tests.integration.registry_data import image, index, referrer

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]

REPO = "/api/v2.0/projects/demo/repositories/team%252Fapp"
ARTIFACTS = f"{REPO}/artifacts"


def art_url(reference: str, suffix: str = "") -> str:
    return f"{ARTIFACTS}/{reference}{suffix}"


@pytest.fixture
def demo(make_user, make_project):
    """demo (private): alice developer; team/app holds v1 (amd64), an index `multi` over
    two untagged images, and an SBOM referrer of v1."""
    alice = make_user("alice")
    project = make_project("demo", members={alice: Role.DEVELOPER})
    v1 = image(project, "team/app", "v1", history=[{"created_by": "RUN make"}])
    amd, arm = image(project, "team/app"), image(project, "team/app", architecture="arm64")
    multi = index(project, "team/app", "multi", [amd, arm])
    sbom = referrer(project, "team/app", v1)
    return {
        "alice": alice,
        "project": project,
        "v1": v1,
        "amd": amd,
        "arm": arm,
        "multi": multi,
        "sbom": sbom,
    }


def digests(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [a["digest"] for a in response.json()]


# --- listArtifacts ------------------------------------------------------------------------


def test_list_artifacts_default_view(demo, client_for):
    response = client_for(demo["alice"]).get(ARTIFACTS)
    assert_matches("listArtifacts", response, 200)
    # newest first; untagged index children and the accessory are not listed on their own
    assert digests(response) == [demo["multi"].digest, demo["v1"].digest]
    assert response["X-Total-Count"] == "2"


def test_listed_artifact_body(demo, client_for):
    v1 = demo["v1"]
    body = {a["digest"]: a for a in client_for(demo["alice"]).get(ARTIFACTS).json()}[v1.digest]
    assert body["id"] == v1.pk
    assert body["type"] == "IMAGE"
    assert body["media_type"] == "application/vnd.oci.image.config.v1+json"
    assert body["manifest_media_type"] == "application/vnd.oci.image.manifest.v1+json"
    assert body["project_id"] == demo["project"].pk
    assert body["repository_id"] == v1.repository_id
    assert body["repository_name"] == "demo/team/app"
    assert body["size"] == v1.size > 3000  # manifest + config + layers
    assert body["pull_time"] == "0001-01-01T00:00:00.000Z"
    assert body["extra_attrs"] == {
        "architecture": "amd64",
        "os": "linux",
        "created": "2026-01-01T00:00:00Z",
        "author": "tests",
        "config": {
            "Env": ["A=1"],
            "Labels": {"serial": v1.extra_attrs["config"]["Labels"]["serial"]},
        },
    }
    assert [t["name"] for t in body["tags"]] == ["v1"]
    assert "labels" not in body and "accessories" not in body
    assert body["addition_links"] == {
        "build_history": {
            "href": f"{ARTIFACTS}/{v1.digest}/additions/build_history",
            "absolute": False,
        }
    }


def test_index_references(demo, client_for):
    response = client_for(demo["alice"]).get(art_url("multi"))
    assert_matches("getArtifact", response, 200)
    references = response.json()["references"]
    assert [(r["child_digest"], r["child_id"], r["parent_id"]) for r in references] == [
        (demo["amd"].digest, demo["amd"].pk, demo["multi"].pk),
        (demo["arm"].digest, demo["arm"].pk, demo["multi"].pk),
    ]
    assert references[1]["platform"] == {
        "architecture": "arm64",
        "os": "linux",
        "'os.version'": "10.0",
    }
    assert references[0]["annotations"] == {"note": "child 0"}
    assert response.json()["addition_links"] == {}


def test_list_with_labels_and_accessories(demo, client_for):
    label = Label.objects.create(name="prod", scope="p", project=demo["project"])
    ArtifactLabel.objects.create(artifact=demo["v1"], label=label)
    response = client_for(demo["alice"]).get(
        ARTIFACTS, {"with_label": "true", "with_accessory": "true", "with_tag": "false"}
    )
    assert_matches("listArtifacts", response, 200)
    body = {a["digest"]: a for a in response.json()}
    v1 = body[demo["v1"].digest]
    assert "tags" not in v1
    assert [lbl["name"] for lbl in v1["labels"]] == ["prod"]
    assert v1["accessories"] == [
        {
            "id": demo["sbom"].pk,
            "artifact_id": demo["sbom"].pk,
            "subject_artifact_id": demo["v1"].pk,
            "subject_artifact_digest": demo["v1"].digest,
            "subject_artifact_repo": "demo/team/app",
            "size": demo["sbom"].size,
            "digest": demo["sbom"].digest,
            "type": "subject.accessory",
            "icon": "",
            "creation_time": v1["accessories"][0]["creation_time"],
        }
    ]
    assert body[demo["multi"].digest]["accessories"] == []


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("base=*", ["sbom", "multi", "arm", "amd", "v1"]),
        ("tags=*", ["multi", "v1"]),
        ("tags=nil", []),
        ("base=*,tags=nil", ["sbom", "arm", "amd"]),
        ("tags=~ult", ["multi"]),
        ("type=IMAGE", ["multi", "v1"]),
        ("media_type=application/vnd.oci.image.index.v1+json", ["multi"]),
        ("base=*,artifact_type=application/vnd.example.sbom.v1", ["sbom"]),
    ],
)
def test_list_artifacts_query(demo, client_for, q, expected):
    response = client_for(demo["alice"]).get(ARTIFACTS, {"q": q})
    assert_matches("listArtifacts", response, 200)
    assert digests(response) == [demo[name].digest for name in expected]


def test_list_artifacts_query_by_digest_labels_and_time(demo, client_for):
    client = client_for(demo["alice"])
    v1 = demo["v1"]
    assert digests(client.get(ARTIFACTS, {"q": f"digest={v1.digest}"})) == [v1.digest]
    a = Label.objects.create(name="a", scope="g")
    b = Label.objects.create(name="b", scope="g")
    ArtifactLabel.objects.create(artifact=v1, label=a)
    ArtifactLabel.objects.create(artifact=v1, label=b)
    ArtifactLabel.objects.create(artifact=demo["multi"], label=a)
    assert digests(client.get(ARTIFACTS, {"q": f"labels=({a.pk} {b.pk})"})) == [v1.digest]
    both = [demo["multi"].digest, v1.digest]
    assert digests(client.get(ARTIFACTS, {"q": f"labels=({a.pk})"})) == both
    pushed = v1.push_time.isoformat()
    assert digests(client.get(ARTIFACTS, {"q": f"push_time=[~{pushed}]"})) == [v1.digest]
    assert digests(client.get(ARTIFACTS, {"q": "pull_time=[2020-01-01~]"})) == []


def test_list_artifacts_sort(demo, client_for):
    response = client_for(demo["alice"]).get(ARTIFACTS, {"sort": "size"})
    sizes = [a["size"] for a in response.json()]
    assert sizes == sorted(sizes)
    response = client_for(demo["alice"]).get(ARTIFACTS, {"sort": "push_time"})
    assert digests(response) == [demo["v1"].digest, demo["multi"].digest]


@pytest.mark.parametrize(
    "params",
    [
        {"q": "tags=foo"},
        {"q": "tags=(a b)"},
        {"q": "labels=~x"},
        {"q": "labels=(x)"},
        {"q": "base=all"},
        {"q": "nosuchkey=1"},
        {"q": "push_time=[yesterday~]"},
        {"q": "size=~3"},
        {"sort": "name"},
        {"page": "-1"},
        {"page_size": "0"},
        {"with_tag": "maybe"},
    ],
)
def test_list_artifacts_bad_parameters_are_400(demo, client_for, params):
    response = client_for(demo["alice"]).get(ARTIFACTS, params)
    assert_harbor_error(response, 400, "BAD_REQUEST")
    assert_matches("listArtifacts", response, 400)


def test_list_artifacts_of_missing_repository_or_project(demo, client_for, make_user):
    client = client_for(demo["alice"])
    for url in (
        "/api/v2.0/projects/demo/repositories/ghost/artifacts",
        "/api/v2.0/projects/ghost/repositories/x/artifacts",
    ):
        response = client.get(url)
        assert_harbor_error(response, 404)
        assert_matches("listArtifacts", response, 404)
    response = client_for(make_user()).get(ARTIFACTS)  # not a member of the private project
    assert_harbor_error(response, 404)


def _populate(project, repository: str, n: int) -> None:
    label = Label.objects.create(name=f"l-{repository}", scope="p", project=project)
    for i in range(n):
        child = image(project, repository)
        parent = index(project, repository, f"t{i}", [child])
        Tag.objects.create(repository=parent.repository, artifact=parent, name=f"alias{i}")
        ArtifactLabel.objects.create(artifact=parent, label=label)
        referrer(project, repository, parent)


def test_list_artifacts_in_a_bounded_number_of_queries(make_user, make_project, client_for):
    alice = make_user("alice")
    project = make_project("demo", members={alice: Role.GUEST})
    counts = []
    for repository, n in (("small", 20), ("large", 40)):
        _populate(project, repository, n)
        client = client_for(alice)
        url = f"/api/v2.0/projects/demo/repositories/{repository}/artifacts"
        params = {"page_size": 100, "with_label": "true", "with_accessory": "true"}
        client.get(url, params)
        with CaptureQueriesContext(connection) as queries:
            response = client.get(url, params)
        assert len(response.json()) == n
        assert all(
            len(a["tags"]) == 2 and a["labels"] and a["accessories"] for a in response.json()
        )
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_list_artifacts_query_budget(
    make_user, make_project, client_for, django_assert_max_num_queries
):
    alice = make_user("alice")
    project = make_project("demo", members={alice: Role.GUEST})
    _populate(project, "app", 40)
    client = client_for(alice)
    url = "/api/v2.0/projects/demo/repositories/app/artifacts"
    params = {"page_size": 100, "with_label": "true", "with_accessory": "true"}
    client.get(url, params)
    with django_assert_max_num_queries(12):
        assert len(client.get(url, params).json()) == 40
    with django_assert_max_num_queries(12):
        assert len(client.get("/api/v2.0/projects/demo/artifacts", params).json()) == 40


# --- getArtifact / deleteArtifact ---------------------------------------------------------


def test_get_artifact_by_tag_and_digest(demo, client_for):
    client = client_for(demo["alice"])
    by_tag = client.get(art_url("v1"), {"with_label": "true", "with_signature": "true"})
    assert_matches("getArtifact", by_tag, 200)
    by_digest = client.get(art_url(demo["v1"].digest), {"with_label": "true"})
    assert by_tag.json() == by_digest.json()
    assert by_tag.json()["labels"] == []


def test_get_missing_artifact_is_404(demo, client_for):
    for reference in ("nope", "sha256:" + "0" * 64, "sha256:bad"):
        response = client_for(demo["alice"]).get(art_url(reference))
        assert_harbor_error(response, 404, "NOT_FOUND")
        assert_matches("getArtifact", response, 404)


def test_delete_artifact_referenced_by_an_index_is_refused(demo, admin, client_for):
    response = client_for(admin).delete(art_url(demo["amd"].digest))
    assert_harbor_error(response, 412, "VIOLATE_FOREIGN_KEY_CONSTRAINT")
    assert Artifact.objects.filter(pk=demo["amd"].pk).exists()


def test_delete_missing_artifact_is_404(demo, admin, client_for):
    response = client_for(admin).delete(art_url("ghost"))
    assert_harbor_error(response, 404)
    assert_matches("deleteArtifact", response, 404)


def test_delete_artifact_needs_delete_permission(demo, client_for):
    response = client_for(demo["alice"]).delete(art_url("v1"))  # developer: no D
    assert_harbor_error(response, 403)
    assert_matches("deleteArtifact", response, 403)


def test_delete_index_deeply(distribution, make_user, make_project, client_for):
    """Deleting an index takes its untagged children along, keeps a tagged child, drops
    its tags; the manifests are gone from storage; blobs are left for GC."""
    owner = make_user("owner")
    make_project("demo", owner=owner)
    amd = push_image("owner", "demo/team/app", "amd-only", architecture="amd64")
    arm = push_image("owner", "demo/team/app", arm_ref := "sha256-tmp", architecture="arm64")
    Tag.objects.filter(name=arm_ref).delete()
    sizes = {
        digest: int(stored_manifest("demo/team/app", digest).headers["Content-Length"])
        for digest in (amd, arm)
    }
    multi = push_index("owner", "demo/team/app", "multi", sizes)

    response = client_for(owner).delete(art_url("multi"))
    assert response.status_code == 200, response.content
    assert set(Artifact.objects.values_list("digest", flat=True)) == {amd}
    assert not Tag.objects.filter(name="multi").exists()
    for digest, expected in ((multi, 404), (arm, 404), (amd, 200)):
        assert stored_manifest("demo/team/app", digest).status_code == expected, digest
    assert AuditLog.objects.filter(
        operation="delete", resource=f"demo/team/app@{multi}", username="owner"
    ).exists()


def test_delete_artifact_takes_its_accessories(demo, distribution, admin, client_for):
    response = client_for(admin).delete(art_url("v1"))
    assert response.status_code == 200, response.content
    assert not Artifact.objects.filter(pk__in=[demo["v1"].pk, demo["sbom"].pk]).exists()
    assert Artifact.objects.filter(pk=demo["multi"].pk).exists()


# --- CopyArtifact -------------------------------------------------------------------------


def test_copy_artifact_across_projects(distribution, make_user, make_project, client_for):
    owner = make_user("owner")
    make_project("src", owner=owner)
    make_project("dst", owner=owner)
    digest = push_image("owner", "src/app", "v1", history=[{"created_by": "RUN copy"}])
    Tag.objects.create(
        repository=Repository.objects.get(name="src/app"),
        artifact=Artifact.objects.get(digest=digest),
        name="stable",
    )
    url = "/api/v2.0/projects/dst/repositories/mirror%252Fapp/artifacts"
    response = client_for(owner).post(f"{url}?from=src/app:v1")
    assert_matches("CopyArtifact", response, 201)
    assert response["Location"] == "/api/v2.0/projects/dst/repositories/mirror%2Fapp/artifacts/v1"

    copied = Artifact.objects.get(repository__name="dst/mirror/app")
    source = Artifact.objects.get(repository__name="src/app")
    assert copied.digest == digest
    assert copied.size == source.size
    assert copied.extra_attrs == source.extra_attrs
    assert sorted(copied.tags.values_list("name", flat=True)) == ["stable", "v1"]
    history = client_for(owner).get(
        "/api/v2.0/projects/dst/repositories/mirror%252Fapp/artifacts/v1/additions/build_history"
    )
    assert json.loads(history.content) == [{"created_by": "RUN copy"}]
    stored = upstream.request(
        "GET",
        "dst/mirror/app",
        f"/v2/dst/mirror/app/manifests/{digest}",
        frozenset({"pull"}),
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert stored.status_code == 200
    for layer in json.loads(stored.content)["layers"]:
        blob = upstream.request(
            "HEAD",
            "dst/mirror/app",
            f"/v2/dst/mirror/app/blobs/{layer['digest']}",
            frozenset({"pull"}),
        )
        assert blob.status_code == 200


def test_copy_an_index_copies_its_children(distribution, make_user, make_project, client_for):
    owner = make_user("owner")
    make_project("src", owner=owner)
    make_project("dst", owner=owner)
    children = {}
    for arch in ("amd64", "arm64"):
        digest = push_image("owner", "src/app", f"only-{arch}", architecture=arch)
        children[digest] = int(stored_manifest("src/app", digest).headers["Content-Length"])
    multi = push_index("owner", "src/app", "multi", children)
    response = client_for(owner).post(
        f"/api/v2.0/projects/dst/repositories/app/artifacts?from=src/app@{multi}"
    )
    assert_matches("CopyArtifact", response, 201)
    copied = set(
        Artifact.objects.filter(repository__name="dst/app").values_list("digest", flat=True)
    )
    assert copied == {multi, *children}
    index_row = Artifact.objects.get(repository__name="dst/app", digest=multi)
    assert sorted(r.child.digest for r in index_row.references.all()) == sorted(children)
    assert list(index_row.tags.values_list("name", flat=True)) == ["multi"]


@pytest.mark.parametrize(
    "source", ["", "src/app", "src/app:", "src/app@sha256:abc", "src/app:bad tag", "UP/app:v1"]
)
def test_copy_with_a_bad_from_is_400(demo, admin, client_for, source):
    response = client_for(admin).post(f"{ARTIFACTS}?from={source}")
    assert_harbor_error(response, 400)
    assert_matches("CopyArtifact", response, 400)


def test_copy_from_what_the_caller_cannot_see_is_404(demo, client_for, make_project):
    secret = make_project("secret")
    image(secret, "app", "v1")
    client = client_for(demo["alice"])
    for source in ("secret/app:v1", "demo/team/app:ghost", "demo/ghost:v1", "nope/app:v1"):
        response = client.post(f"{ARTIFACTS}?from={source}")
        assert_harbor_error(response, 404)
        assert_matches("CopyArtifact", response, 404)


def test_copy_needs_create_permission_on_the_destination(demo, client_for, make_user):
    guest = make_user("guest")
    demo["project"].members.create(user=guest, role=Role.GUEST)
    response = client_for(guest).post(f"{ARTIFACTS}?from=demo/team/app:v1")
    assert_harbor_error(response, 403)
    assert_matches("CopyArtifact", response, 403)


# --- tags ---------------------------------------------------------------------------------


def test_create_list_and_delete_tags(demo, client_for, make_user):
    client = client_for(demo["alice"])
    response = client.post(art_url("v1", "/tags"), {"name": "release"}, format="json")
    assert response.status_code == 201, response.content
    assert_matches("createTag", response, 201)
    assert AuditLog.objects.filter(resource="demo/team/app:release", operation="create").exists()
    listing = client.get(art_url("v1", "/tags"), {"sort": "name"})
    assert_matches("listTags", listing, 200)
    assert [t["name"] for t in listing.json()] == ["release", "v1"]
    assert listing["X-Total-Count"] == "2"
    assert [t["name"] for t in client.get(art_url("v1", "/tags"), {"q": "name=~rel"}).json()] == [
        "release"
    ]
    assert client.get(art_url("release")).json()["digest"] == demo["v1"].digest

    maintainer = make_user("maint")
    demo["project"].members.create(user=maintainer, role=Role.MAINTAINER)
    deleted = client_for(maintainer).delete(art_url("v1", "/tags/release"))
    assert deleted.status_code == 200, deleted.content
    assert not Tag.objects.filter(name="release").exists()


def test_create_tag_errors(demo, client_for):
    client = client_for(demo["alice"])
    taken = client.post(art_url("v1", "/tags"), {"name": "multi"}, format="json")
    assert_harbor_error(taken, 409, "CONFLICT")
    assert_matches("createTag", taken, 409)
    for body in ({"name": "bad tag"}, {"name": ".x"}, {}):
        bad = client.post(art_url("v1", "/tags"), body, format="json")
        assert_harbor_error(bad, 400)
        assert_matches("createTag", bad, 400)
    missing = client.post(art_url("ghost", "/tags"), {"name": "x"}, format="json")
    assert_harbor_error(missing, 404)
    assert_matches("createTag", missing, 404)


def test_list_tags_errors(demo, client_for):
    client = client_for(demo["alice"])
    response = client.get(art_url("v1", "/tags"), {"q": "color=red"})
    assert_harbor_error(response, 400)
    assert_matches("listTags", response, 400)
    response = client.get(art_url("ghost", "/tags"))
    assert_harbor_error(response, 404)
    assert_matches("listTags", response, 404)


def test_delete_tag_errors(demo, admin, client_for):
    client = client_for(admin)
    response = client.delete(art_url("v1", "/tags/multi"))  # a tag of another artifact
    assert_harbor_error(response, 404)
    assert_matches("deleteTag", response, 404)
    response = client_for(demo["alice"]).delete(art_url("v1", "/tags/v1"))  # developer: no D
    assert_harbor_error(response, 403)
    assert_matches("deleteTag", response, 403)
    assert Tag.objects.filter(name="v1").exists()


# --- accessories and additions ------------------------------------------------------------


def test_list_accessories(demo, client_for):
    client = client_for(demo["alice"])
    response = client.get(art_url("v1", "/accessories"))
    assert_matches("listAccessories", response, 200)
    assert [a["digest"] for a in response.json()] == [demo["sbom"].digest]
    none = client.get(art_url("multi", "/accessories"))
    assert_matches("listAccessories", none, 200)
    assert none.json() == []
    assert none["X-Total-Count"] == "0"
    bad = client.get(art_url("v1", "/accessories"), {"q": "x=1"})
    assert_harbor_error(bad, 400)
    assert_matches("listAccessories", bad, 400)
    missing = client.get(art_url("ghost", "/accessories"))
    assert_matches("listAccessories", missing, 404)


def test_build_history_addition(demo, client_for):
    response = client_for(demo["alice"]).get(art_url("v1", "/additions/build_history"))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    assert json.loads(response.content) == [{"created_by": "RUN make"}]
    # The contract's 200 schema is the raw body as a string.
    jsonschema.validate(response.content.decode(), response_schema("getAddition", 200))


@pytest.mark.parametrize(
    ("reference", "addition"),
    [
        ("v1", "values.yaml"),
        ("v1", "readme.md"),
        ("v1", "nonsense"),
        ("multi", "build_history"),
        ("ghost", "build_history"),
    ],
)
def test_other_additions_are_404(demo, client_for, reference, addition):
    response = client_for(demo["alice"]).get(art_url(reference, f"/additions/{addition}"))
    assert_harbor_error(response, 404)
    assert_matches("getAddition", response, 404)


# --- artifact labels ----------------------------------------------------------------------


def test_add_and_remove_labels(demo, client_for, make_project):
    client = client_for(demo["alice"])
    own = Label.objects.create(name="own", scope="p", project=demo["project"])
    shared = Label.objects.create(name="shared", scope="g")
    for label in (own, shared):
        response = client.post(art_url("v1", "/labels"), {"id": label.pk}, format="json")
        assert response.status_code == 200, response.content
        assert_matches("addLabel", response, 200)
    assert set(demo["v1"].labels.values_list("name", flat=True)) == {"own", "shared"}
    again = client.post(art_url("v1", "/labels"), {"id": own.pk}, format="json")
    assert_harbor_error(again, 409)
    assert_matches("addLabel", again, 409)

    removed = client.delete(art_url("v1", f"/labels/{own.pk}"))
    assert removed.status_code == 200, removed.content
    assert_matches("removeLabel", removed, 200)
    assert list(demo["v1"].labels.values_list("name", flat=True)) == ["shared"]
    gone = client.delete(art_url("v1", f"/labels/{own.pk}"))
    assert_harbor_error(gone, 404)
    assert_matches("removeLabel", gone, 404)
    assert AuditLog.objects.filter(resource_type="artifact_label", operation="delete").exists()


def test_add_label_errors(demo, client_for, make_project):
    client = client_for(demo["alice"])
    foreign = Label.objects.create(name="theirs", scope="p", project=make_project("else"))
    # Another project's label answers exactly like a missing one (issue #20).
    response = client.post(art_url("v1", "/labels"), {"id": foreign.pk}, format="json")
    theirs = assert_harbor_error(response, 404)
    assert_matches("addLabel", response, 404)
    assert theirs["message"] == f"label {foreign.pk} not found"
    response = client.post(art_url("v1", "/labels"), {"id": 999999}, format="json")
    missing = assert_harbor_error(response, 404)
    assert_matches("addLabel", response, 404)
    assert missing["message"] == "label 999999 not found"
    response = client.post(art_url("v1", "/labels"), {"name": "x"}, format="json")
    assert_harbor_error(response, 400)


# --- listArtifactsOfProject ---------------------------------------------------------------


def test_list_artifacts_of_project(demo, client_for):
    image(demo["project"], "other", "x")
    client = client_for(demo["alice"])
    response = client.get("/api/v2.0/projects/demo/artifacts")
    assert_matches("listArtifactsOfProject", response, 200)
    assert response["X-Total-Count"] == "3"
    by_id = client.get(
        f"/api/v2.0/projects/{demo['project'].pk}/artifacts", {"q": "repository_name=demo/other"}
    )
    assert [a["repository_name"] for a in by_id.json()] == ["demo/other"]


def test_latest_in_repository(demo, client_for):
    newer = image(demo["project"], "team/app", "v2")
    image(demo["project"], "other", "x")
    client = client_for(demo["alice"])
    response = client.get(
        "/api/v2.0/projects/demo/artifacts",
        {
            "q": "media_type=application/vnd.oci.image.config.v1+json",
            "latest_in_repository": "true",
        },
    )
    assert_matches("listArtifactsOfProject", response, 200)
    assert sorted((a["repository_name"], a["digest"]) for a in response.json())[1] == (
        "demo/team/app",
        newer.digest,
    )
    assert len(response.json()) == 2
    for q in ("", "media_type=a,artifact_type=b"):
        bad = client.get(
            "/api/v2.0/projects/demo/artifacts", {"q": q, "latest_in_repository": "true"}
        )
        assert_harbor_error(bad, 400)
        assert_matches("listArtifactsOfProject", bad, 400)


def test_list_artifacts_of_project_errors(demo, client_for, make_user):
    response = client_for(make_user()).get("/api/v2.0/projects/demo/artifacts")
    assert_harbor_error(response, 404)
    assert_matches("listArtifactsOfProject", response, 404)
    response = client_for(demo["alice"]).get("/api/v2.0/projects/demo/artifacts", {"sort": "x"})
    assert_matches("listArtifactsOfProject", response, 400)
