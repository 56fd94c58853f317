"""Replication with a generic `docker-registry` endpoint: a bare distribution (no Harbor
API: _catalog, tags/list and manifest HEADs) as the destination of a push-based policy
and as the source of a pull-based one."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.e2e.replication_support import (
    ADMIN,
    artifact_tags,
    assert_identical,
    create_endpoint,
    create_policy,
    replicate,
)
from tests.imagegen import make_image
from tests.proxy_upstream import bare_registry
from tests.stack import Instance, skopeo


@pytest.fixture(scope="module")
def bare(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A bare distribution on a TCP port; its host:port."""
    with bare_registry(tmp_path_factory.mktemp("bare")) as registry:
        yield registry.host


def test_push_to_and_pull_from_a_bare_distribution(stack: Instance, bare: str, tmp_path):
    project = f"d{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    app = make_image(tmp_path / "app", layer_sizes=[2 * 1024 * 1024, 5000])
    skopeo("copy", app.ref, f"docker://{stack.host}/{project}/team/app:v1", creds=ADMIN)
    skopeo("copy", app.ref, f"docker://{stack.host}/{project}/team/app:dev", creds=ADMIN)
    endpoint = create_endpoint(
        stack, f"http://{bare}", f"bare-{project}", kind="docker-registry", credentials=None
    )

    # push-based: names kept, tags filtered, no project to create on a plain registry
    push = create_policy(
        stack,
        {
            "name": f"to-bare-{project}",
            "dest_registry": {"id": endpoint},
            "filters": [{"type": "name", "value": f"{project}/**"}, {"type": "tag", "value": "v*"}],
        },
    )
    found = replicate(stack, push)
    assert (found["total"], found["succeed"]) == (1, 1)
    tags = httpx.get(f"http://{bare}/v2/{project}/team/app/tags/list").json()["tags"]
    assert tags == ["v1"]
    assert_identical(bare, f"{project}/team/app:v1", app, tmp_path / "pushed", creds=None)
    again = replicate(stack, push)  # already there: compared through tags/list, copied again never
    assert again["succeed"] == 1

    # pull-based: from the plain registry's catalog into a namespace of this instance
    tool = make_image(tmp_path / "tool", layer_sizes=[700_000])
    other = make_image(tmp_path / "other", layer_sizes=[1000])
    skopeo("copy", tool.ref, f"docker://{bare}/ext/tool:1.0")
    skopeo("copy", tool.ref, f"docker://{bare}/ext/tool:latest")
    skopeo("copy", other.ref, f"docker://{bare}/ext/other:2")
    target = f"{project}-ext"
    pull = create_policy(
        stack,
        {
            "name": f"from-bare-{project}",
            "src_registry": {"id": endpoint},
            "dest_namespace": target,
            "dest_namespace_replace_count": 1,
            "filters": [{"type": "name", "value": "ext/tool"}],
        },
    )
    found = replicate(stack, pull)
    assert (found["total"], found["succeed"]) == (1, 1)
    assert artifact_tags(stack, target, "tool") == {tool.manifest_digest: ["1.0", "latest"]}
    assert artifact_tags(stack, target, "other") == {}
    assert_identical(stack.host, f"{target}/tool:1.0", tool, tmp_path / "pulled")
