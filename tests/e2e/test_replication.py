"""Replication between two running instances: push-based from the session `stack` to a
second instance, and pull-based back into a new project, with the images compared bit
by bit after a skopeo pull and checked in the destination's API; event-based runs that
follow pushes, accessories (OCI 1.1 subject) and tag deletions."""

from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import httpx

from tests.e2e.replication_support import (
    ADMIN,
    API,
    REPLICATION,
    artifact_tags,
    assert_identical,
    create_endpoint,
    create_policy,
    replicate,
    wait_until,
)
from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

pytestmark = REPLICATION  # `second` starts once for this module and the faults module


def _endpoint(on: Instance, to: Instance, name: str) -> int:
    with on.client() as api:
        ping = api.post(
            f"{API}/registries/ping",
            json={
                "type": "harbor",
                "url": to.url,
                "access_key": "admin",
                "access_secret": ADMIN_PASSWORD,
            },
        )
    assert ping.status_code == 200, ping.text
    return create_endpoint(on, to.url, name)


def test_push_and_pull_based_replication(stack: Instance, second: Instance, tmp_path: Path):
    project = f"r{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    small = make_image(tmp_path / "small", layer_sizes=[1500])
    big = make_image(tmp_path / "big", layer_sizes=[4 * 1024 * 1024, 300_000, 20, 77_777])
    skopeo("copy", small.ref, f"docker://{stack.host}/{project}/small:v1", creds=ADMIN)
    skopeo("copy", big.ref, f"docker://{stack.host}/{project}/team/big:v1", creds=ADMIN)
    skopeo("copy", big.ref, f"docker://{stack.host}/{project}/team/big:stable", creds=ADMIN)

    # push-based: stack -> second, same names (the project is created there)
    to_second = _endpoint(stack, second, f"second-{project}")
    push = create_policy(
        stack,
        {
            "name": f"push-{project}",
            "dest_registry": {"id": to_second},
            "filters": [{"type": "name", "value": f"{project}/**"}],
            "trigger": {"type": "manual"},
        },
    )
    execution = replicate(stack, push)
    assert (execution["total"], execution["succeed"]) == (2, 2)
    assert_identical(second.host, f"{project}/team/big:stable", big, tmp_path / "out1")
    assert_identical(second.host, f"{project}/small:v1", small, tmp_path / "out2")
    assert artifact_tags(second, project, "team%252Fbig") == {big.manifest_digest: ["stable", "v1"]}

    # pull-based: second <- stack, into another namespace, one path level replaced
    from_stack = _endpoint(second, stack, f"stack-{project}")
    pulled = f"{project}-pulled"
    pull = create_policy(
        second,
        {
            "name": f"pull-{project}",
            "src_registry": {"id": from_stack},
            "dest_namespace": pulled,
            "dest_namespace_replace_count": 1,
            "filters": [{"type": "name", "value": f"{project}/**"}, {"type": "tag", "value": "v*"}],
            "trigger": {"type": "manual"},
        },
    )
    execution = replicate(second, pull)
    assert (execution["total"], execution["succeed"]) == (2, 2)
    assert_identical(second.host, f"{pulled}/team/big:v1", big, tmp_path / "out3")
    assert_identical(second.host, f"{pulled}/small:v1", small, tmp_path / "out4")
    # only the tag that passed the filter, and the artifacts show in the API
    assert artifact_tags(second, pulled, "team%252Fbig") == {big.manifest_digest: ["v1"]}
    assert artifact_tags(second, pulled, "small") == {small.manifest_digest: ["v1"]}


def _push_signature(instance: Instance, repository: str, subject: str, size: int) -> str:
    """Push an OCI 1.1 accessory (a cosign-like signature) of `subject` over /v2."""
    token = instance.token([f"repository:{repository}:pull,push"], auth=ADMIN)["token"]
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=instance.url, headers=headers, timeout=60) as v2:
        descriptors = []
        for data, media_type in (
            (b"{}", "application/vnd.oci.empty.v1+json"),
            (uuid.uuid4().bytes * 10, "application/vnd.dev.cosign.simplesigning.v1+json"),
        ):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            started = v2.post(f"/v2/{repository}/blobs/uploads/")
            assert started.status_code == 202, started.text
            done = v2.put(
                str(httpx.URL(started.headers["Location"]).copy_merge_params({"digest": digest})),
                content=data,
                headers={"Content-Type": "application/octet-stream"},
            )
            assert done.status_code == 201, done.text
            descriptors.append({"mediaType": media_type, "digest": digest, "size": len(data)})
        manifest = json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "artifactType": "application/vnd.dev.cosign.artifact.sig.v1+json",
                "config": descriptors[0],
                "layers": descriptors[1:],
                "subject": {
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "digest": subject,
                    "size": size,
                },
            }
        ).encode()
        digest = "sha256:" + hashlib.sha256(manifest).hexdigest()
        response = v2.put(
            f"/v2/{repository}/manifests/{digest}",
            content=manifest,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
    assert response.status_code == 201, response.text
    return digest


def _referrers(instance: Instance, repository: str, digest: str) -> list[str]:
    token = instance.token([f"repository:{repository}:pull"], auth=ADMIN)["token"]
    response = httpx.get(
        f"{instance.url}/v2/{repository}/referrers/{digest}",
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 200, response.text
    return [m["digest"] for m in response.json()["manifests"]]


def test_event_based_accessories_and_tag_deletion(stack: Instance, second: Instance, tmp_path):
    project = f"e{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    to_second = _endpoint(stack, second, f"events-{project}")
    create_policy(
        stack,
        {
            "name": f"events-{project}",
            "dest_registry": {"id": to_second},
            "filters": [{"type": "name", "value": f"{project}/**"}],
            "trigger": {"type": "event_based"},
            "deletion": True,
        },
    )
    app = make_image(tmp_path / "app", layer_sizes=[400_000])
    skopeo("copy", app.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    skopeo("copy", app.ref, f"docker://{stack.host}/{project}/app:v2", creds=ADMIN)

    def tags_at_second() -> list[str]:
        return artifact_tags(second, project, "app").get(app.manifest_digest, [])

    wait_until(lambda: tags_at_second() == ["v1", "v2"], 90, "the pushes to be replicated")
    assert_identical(second.host, f"{project}/app:v2", app, tmp_path / "out")

    # an accessory pushed later follows its subject
    size = len((app.path / "blobs" / "sha256" / app.manifest_digest.split(":")[1]).read_bytes())
    signature = _push_signature(stack, f"{project}/app", app.manifest_digest, size)
    wait_until(
        lambda: _referrers(second, f"{project}/app", app.manifest_digest) == [signature],
        90,
        "the signature to be replicated",
    )

    # deleting a tag (not the artifact) deletes that tag at the destination only
    with stack.client() as api:
        response = api.delete(f"{API}/projects/{project}/repositories/app/artifacts/v2/tags/v2")
    assert response.status_code == 200, response.text
    wait_until(lambda: tags_at_second() == ["v1"], 90, "the tag deletion to be replicated")
    assert_identical(second.host, f"{project}/app:v1", app, tmp_path / "after")


def test_scheduled_policy_runs_from_beat(stack: Instance, second: Instance, tmp_path):
    """Beat starts the run from the policy's cron (every minute here), no API call."""
    project = f"s{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    app = make_image(tmp_path / "app", layer_sizes=[100_000])
    skopeo("copy", app.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    to_second = _endpoint(stack, second, f"scheduled-{project}")
    policy = create_policy(
        stack,
        {
            "name": f"scheduled-{project}",
            "dest_registry": {"id": to_second},
            "filters": [{"type": "name", "value": f"{project}/**"}],
            "trigger": {"type": "scheduled", "trigger_settings": {"cron": "0 * * * * *"}},
        },
    )

    def scheduled_run() -> dict | None:
        with stack.client() as api:
            found = api.get(
                f"{API}/replication/executions",
                params={"policy_id": policy, "trigger": "scheduled", "status": "Succeed"},
            ).json()
        return found[0] if found else None

    wait_until(scheduled_run, 150, "beat to run the scheduled policy")
    assert artifact_tags(second, project, "app") == {app.manifest_digest: ["v1"]}
