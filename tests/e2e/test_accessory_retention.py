"""Retention and GC never delete an accessory whose subject is kept (#23), through a whole
instance: skopeo pushes the images, signatures and an SBOM are pushed as cosign's tag
scheme and as OCI 1.1 referrers, the retention run is the instance's Celery worker's, and
so is the GC that follows (with the untagged sweep on and a window of 0). The instance is
the test's own: that GC takes every project's untagged artifacts and unreferenced blobs,
which the shared stack's other tests may still use."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from registry.accessories import cosign_tag
from tests import signing
from tests.e2e.gc_support import manual_gc
from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, running_instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
EVERY_REPO = [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
EVERY_TAG = [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}]


@pytest.fixture(scope="module")
def own(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Instance]:
    # GC's window 0: the untagged sweep and the blob sweep take what was pushed a moment
    # ago (with the default 2 h, nothing this test pushed would be a candidate)
    with running_instance(
        tmp_path_factory.mktemp("accessory-retention"), extra_env={"GC_TIME_WINDOW_HOURS": "0"}
    ) as instance:
        yield instance


class Registry:
    """Raw pushes and reads on /v2 with a bearer token (signatures are manifests that
    only this test writes)."""

    def __init__(self, stack: Instance, repository: str) -> None:
        token = stack.token([f"repository:{repository}:pull,push,delete"], auth=ADMIN)["token"]
        self.repository = repository
        self.http = httpx.Client(
            base_url=stack.url, headers={"Authorization": f"Bearer {token}"}, timeout=60
        )

    def push(self, doc: dict, blobs: list[signing.Blob], reference: str | None = None) -> str:
        for blob in blobs:
            started = self.http.post(f"/v2/{self.repository}/blobs/uploads/")
            assert started.status_code == 202, started.text
            location = httpx.URL(started.headers["Location"])
            put = self.http.put(
                location.copy_merge_params({"digest": blob.digest}),
                content=blob.data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert put.status_code == 201, put.text
        body = json.dumps(doc).encode()
        reference = reference or signing.manifest_digest(doc)
        answer = self.http.put(
            f"/v2/{self.repository}/manifests/{reference}",
            content=body,
            headers={"Content-Type": signing.OCI_MANIFEST},
        )
        assert answer.status_code == 201, answer.text
        return answer.headers["Docker-Content-Digest"]

    def status(self, kind: str, reference: str) -> int:
        return self.http.get(f"/v2/{self.repository}/{kind}/{reference}").status_code


def _finished(api: httpx.Client, path: str) -> dict:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        found = api.get(path).json()
        if found and found[0]["status"] not in ("Pending", "Running"):
            return found[0]
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {path}")


def test_retention_and_gc_never_delete_an_accessory_of_a_kept_subject(
    own: Instance, tmp_path: Path
):
    project = f"acc{uuid.uuid4().hex[:8]}"
    project_id = own.create_project(project)
    repository = f"{project}/app"
    digests = {}
    for tag in ("old", "new"):
        image = make_image(tmp_path / tag, layer_sizes=[300])
        skopeo("copy", image.ref, f"docker://{own.host}/{repository}:{tag}", creds=ADMIN)
        digests[tag] = image.manifest_digest
        time.sleep(1.1)  # push times a second apart: "new" is the latest pushed
    # in a repository of its own (the latest there, retention keeps it), an image that is
    # made untagged before the GC: the untagged sweep takes it
    loose = make_image(tmp_path / "loose", layer_sizes=[300])
    skopeo("copy", loose.ref, f"docker://{own.host}/{project}/loose:v1", creds=ADMIN)

    registry = Registry(own, repository)
    key = signing.ec_key()
    accessories: dict[str, dict[str, str]] = {}
    for tag, digest in digests.items():
        # pushed after both images: each accessory is newer than "new", and the cosign
        # one carries a tag that the rule's "**" matches
        cosign_doc, cosign_blobs = signing.cosign_signature(key, digest)
        size = registry.http.head(f"/v2/{repository}/manifests/{digest}").headers
        subject_size = int(size["Content-Length"])
        notation_doc, notation_blobs = signing.notation_signature(
            key, digest, subject_size, cose=True
        )
        accessories[tag] = {
            "cosign": registry.push(cosign_doc, cosign_blobs, cosign_tag(digest)),
            "notation": registry.push(notation_doc, notation_blobs),
            "envelope": notation_blobs[1].digest,
        }

    with own.client() as api:
        base = f"/api/v2.0/projects/{project}/repositories/app/artifacts"
        for tag in ("old", "new"):
            listed = api.get(f"{base}/{tag}/accessories").json()
            assert sorted(a["type"] for a in listed) == ["signature.cosign", "signature.notation"]

        policy = {
            "algorithm": "or",
            "rules": [
                {
                    "template": "latestPushedK",
                    "params": {"latestPushedK": 1},
                    "tag_selectors": EVERY_TAG,
                    "scope_selectors": {"repository": EVERY_REPO},
                }
            ],
            "trigger": {"kind": "Schedule", "settings": {"cron": ""}, "references": {}},
            "scope": {"level": "project", "ref": project_id},
        }
        created = api.post("/api/v2.0/retentions", json=policy)
        assert created.status_code == 201, created.text
        executions = created.headers["Location"] + "/executions"
        assert api.post(executions, json={"dry_run": False}).status_code == 201
        run = _finished(api, executions)
        assert run["status"] == "Success", run

        # "new" is kept with both its signatures; "old" went, and its signatures with it
        listing = api.get(base, params={"page_size": 50}).json()
        assert {t["name"] for a in listing for t in a["tags"] or []} == {"new"}
        listed = api.get(f"{base}/new/accessories").json()
        assert sorted(a["digest"] for a in listed) == sorted(
            [accessories["new"]["cosign"], accessories["new"]["notation"]]
        )
        for name in ("cosign", "notation"):
            assert registry.status("manifests", accessories["new"][name]) == 200
            assert registry.status("manifests", accessories["old"][name]) == 404
        assert registry.status("manifests", cosign_tag(digests["new"])) == 200
        assert registry.status("manifests", digests["old"]) == 404

        # untagged now (after the retention run, which would have taken it)
        untagged = api.delete(
            f"/api/v2.0/projects/{project}/repositories/loose/artifacts/v1/tags/v1"
        )
        assert untagged.status_code == 200, untagged.text
        gc = manual_gc(api, {"delete_untagged": True, "workers": 1})
        assert gc is not None
        run_gc, log = gc
        assert run_gc["status"] == "Success", log

    # the untagged sweep ran (the loose image went) and left the accessories of "new",
    # the untagged Notation referrer included, with their blobs
    loose_registry = Registry(own, f"{project}/loose")
    assert loose_registry.status("manifests", loose.manifest_digest) == 404
    loose_registry.http.close()
    assert registry.status("manifests", digests["new"]) == 200
    for name in ("cosign", "notation"):
        assert registry.status("manifests", accessories["new"][name]) == 200
    assert registry.status("blobs", accessories["new"]["envelope"]) == 200
    with own.client() as api:
        listed = api.get(
            f"/api/v2.0/projects/{project}/repositories/app/artifacts/new/accessories"
        ).json()
        assert sorted(a["type"] for a in listed) == ["signature.cosign", "signature.notation"]
    registry.http.close()
