"""A real client that reuses its token across repositories: the oras Python SDK pushes to
one repository, then pulls from another of the same project with the same token. The gate
answers the token's missing scope with the `insufficient_scope` challenge, and the client
fetches a new token (issue #20: it got 403 and gave up after six tries)."""

from __future__ import annotations

import uuid
from pathlib import Path

import oras.client

from tests.stack import ADMIN_PASSWORD, Instance


def _client(stack: Instance) -> oras.client.OrasClient:
    """Credentials in memory only: `login()` would write them to ~/.docker/config.json,
    where skopeo in every later test would find them."""
    client = oras.client.OrasClient(hostname=stack.host, insecure=True)
    client.auth.set_basic_auth("admin", ADMIN_PASSWORD)
    return client


def test_one_client_pushes_to_one_repository_then_pulls_from_another(
    stack: Instance, tmp_path: Path
) -> None:
    project = f"oras{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    first, second = tmp_path / "first.txt", tmp_path / "second.txt"
    first.write_text("first artifact\n")
    second.write_text("second artifact\n")
    _client(stack).push(
        target=f"{stack.host}/{project}/b:v1",
        files=[str(second)],
        quiet=True,
        disable_path_validation=True,
    )

    client = _client(stack)
    pushed = client.push(
        target=f"{stack.host}/{project}/a:v1",
        files=[str(first)],
        quiet=True,
        disable_path_validation=True,
    )
    assert pushed.status_code == 201, pushed.text
    out = tmp_path / "out"
    files = client.pull(target=f"{stack.host}/{project}/b:v1", outdir=str(out))
    assert [Path(f).read_text() for f in files] == ["second artifact\n"]
