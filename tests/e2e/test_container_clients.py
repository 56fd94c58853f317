"""The everyday image workflow with real container tools through the whole stack:
buildah builds from a Containerfile (FROM a base image the test pushes to our registry
first, RUN and COPY layers) and pushes; podman pulls and runs a command in it; skopeo and
podman log in, push, pull, copy between projects and delete.

The tools run as root with the vfs storage driver and chroot isolation, each in its own
storage under the test's tmp_path. Where this machine cannot run a container (a sandbox
without the cgroup and rlimit rights crun needs), the podman-run step says why and the
command is run in the pulled image with `buildah run` (chroot) instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import uuid
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
BUSYBOX = Path("/bin/busybox")

pytestmark = pytest.mark.skipif(
    not (shutil.which("buildah") and shutil.which("podman") and BUSYBOX.is_file()),
    reason="needs buildah, podman and busybox-static (deploy/install-system.sh test)",
)


class Tools:
    """buildah, podman and skopeo on one private storage and one auth file."""

    def __init__(self, root: Path, host: str) -> None:
        self.root, self.host = root, host
        # podman refuses a runroot longer than 50 characters; pytest's tmp_path is longer.
        self.runroot = tempfile.mkdtemp(prefix="hp-run-", dir="/tmp")
        self.env = {
            **os.environ,
            "REGISTRY_AUTH_FILE": str(root / "auth.json"),
            "BUILDAH_ISOLATION": "chroot",
        }

    def run(self, tool: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        if tool == "skopeo":
            flags = ["--insecure-policy"]
        else:
            flags = ["--root", str(self.root / "storage"), "--runroot", self.runroot]
            flags += ["--storage-driver", "vfs"]
        if tool == "podman":
            flags += ["--cgroup-manager", "cgroupfs", "--events-backend", "file"]
        result = subprocess.run(
            [tool, *flags, *args],
            capture_output=True,
            text=True,
            env=self.env,
            timeout=600,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"{tool} {' '.join(args)} failed:\n{result.stderr}")
        return result

    def login(self, tool: str) -> None:
        self.run(
            tool,
            "login",
            "--tls-verify=false",
            "-u",
            ADMIN[0],
            "-p",
            ADMIN[1],
            self.host,
        )


@pytest.fixture
def make_tools(stack: Instance, tmp_path: Path) -> Iterator[Callable[[str], Tools]]:
    made: list[Tools] = []

    def make(name: str) -> Tools:
        made.append(Tools(tmp_path / name, stack.host))
        return made[-1]

    yield make
    for tools in made:
        shutil.rmtree(tools.runroot, ignore_errors=True)


def _project(stack: Instance) -> str:
    name = f"cc{uuid.uuid4().hex[:10]}"
    stack.create_project(name)
    return name


def _build_base(tools: Tools, context: Path, ref: str) -> None:
    """A busybox base image, pushed to our registry."""
    context.mkdir()
    shutil.copy(BUSYBOX, context / "busybox")
    (context / "Containerfile").write_text(
        'FROM scratch\nCOPY busybox /bin/busybox\nRUN ["/bin/busybox", "--install", "-s", "/bin"]\n'
    )
    tools.run("buildah", "bud", "--isolation", "chroot", "-t", "localhost/base", str(context))
    tools.run("buildah", "push", "--tls-verify=false", "localhost/base", f"docker://{ref}")


def _ui_page(stack: Instance, path: str) -> str:
    with httpx.Client(base_url=stack.url) as ui:
        ui.get("/account/sign-in")
        signed_in = ui.post(
            "/account/sign-in",
            data={
                "principal": ADMIN[0],
                "password": ADMIN[1],
                "csrfmiddlewaretoken": ui.cookies["__csrf"],
            },
            headers={"Origin": stack.url, "Referer": f"{stack.url}/account/sign-in"},
        )
        assert signed_in.status_code == 302, signed_in.text[:300]
        page = ui.get(path)
        assert page.status_code == 200
        return page.text


def test_buildah_builds_from_a_containerfile_and_podman_runs_it(
    stack: Instance, tmp_path: Path, make_tools: Callable[[str], Tools]
) -> None:
    project = _project(stack)
    base_ref = f"{stack.host}/{project}/base:1"
    app_ref = f"{stack.host}/{project}/app:1"
    base_tools = make_tools("base-tools")
    base_tools.login("buildah")
    _build_base(base_tools, tmp_path / "base", base_ref)

    # A second, empty storage: FROM has to pull the base from our registry.
    builder = make_tools("builder")
    builder.login("buildah")
    context = tmp_path / "app"
    context.mkdir()
    (context / "hello.txt").write_text("hello from the build context\n")
    (context / "Containerfile").write_text(
        f"FROM {base_ref}\n"
        "RUN echo built-by-buildah > /built.txt && mkdir /app\n"
        "COPY hello.txt /app/hello.txt\n"
        'CMD ["cat", "/built.txt"]\n'
    )
    built = builder.run(
        "buildah", "bud", "--tls-verify=false", "--isolation", "chroot", "-t", app_ref, str(context)
    )
    assert f"FROM {base_ref}" in built.stdout
    builder.run("buildah", "push", "--tls-verify=false", app_ref)

    with stack.client() as api:
        artifact = api.get(f"/api/v2.0/projects/{project}/repositories/app/artifacts/1").json()
        history = api.get(
            f"/api/v2.0/projects/{project}/repositories/app/artifacts/1/additions/build_history"
        ).json()
    assert artifact["type"] == "IMAGE"
    steps = [step.get("created_by", "") for step in history]
    assert any("echo built-by-buildah" in step for step in steps), steps
    assert any("COPY" in step and "hello.txt" in step for step in steps), steps
    page = _ui_page(stack, f"/projects/{project}/repositories/app/-/artifacts/1")
    assert "echo built-by-buildah" in page  # build history on the artifact page
    assert page.count("sha256:") >= 3  # base layer, RUN layer, COPY layer

    runner = make_tools("runner")
    runner.login("podman")
    runner.run("podman", "pull", "--tls-verify=false", app_ref)
    ran = runner.run("podman", "run", "--rm", "--network=none", app_ref, check=False)
    if ran.returncode == 0:
        assert ran.stdout.strip() == "built-by-buildah"
        return
    warnings.warn(
        f"podman cannot run a container on this machine ({ran.stderr.strip()[-200:]}); "
        "the pulled image runs its command under buildah's chroot isolation instead",
        stacklevel=1,
    )
    container = runner.run("buildah", "from", app_ref).stdout.strip()
    inside = runner.run("buildah", "run", container, "--", "cat", "/built.txt", "/app/hello.txt")
    assert inside.stdout == "built-by-buildah\nhello from the build context\n"


def test_skopeo_and_podman_login_push_pull_copy_and_delete(
    stack: Instance, tmp_path: Path, make_tools: Callable[[str], Tools]
) -> None:
    source, target = _project(stack), _project(stack)
    tools = make_tools("tools")
    for tool in ("skopeo", "podman"):
        tools.login(tool)

    # skopeo, with the login's auth file (no --creds): push, copy across projects.
    image = make_image(tmp_path / "src", layer_sizes=[200_000, 300])
    source_ref, target_ref = f"{stack.host}/{source}/app", f"{stack.host}/{target}/app"
    tools.run("skopeo", "copy", "--dest-tls-verify=false", image.ref, f"docker://{source_ref}:v1")
    tools.run(
        "skopeo",
        "copy",
        "--src-tls-verify=false",
        "--dest-tls-verify=false",
        f"docker://{source_ref}:v1",
        f"docker://{target_ref}:copied",
    )

    # podman: pull what skopeo pushed, push it into the other project under a new tag.
    tools.run("podman", "pull", "--tls-verify=false", f"{source_ref}:v1")
    tools.run("podman", "tag", f"{source_ref}:v1", f"{target_ref}:from-podman")
    tools.run("podman", "push", "--tls-verify=false", f"{target_ref}:from-podman")
    tags = skopeo("list-tags", f"docker://{target_ref}", creds=ADMIN).stdout
    assert '"copied"' in tags and '"from-podman"' in tags
    with stack.client() as api:
        copied = api.get(f"/api/v2.0/projects/{target}/repositories/app/artifacts/copied").json()
    assert copied["digest"] == image.manifest_digest

    # skopeo delete removes the manifest; a pull of it then fails.
    tools.run("skopeo", "delete", "--tls-verify=false", f"docker://{source_ref}:v1")
    tools.run("podman", "rmi", "--all", "--force")
    gone = tools.run("podman", "pull", "--tls-verify=false", f"{source_ref}:v1", check=False)
    assert gone.returncode != 0
    assert "manifest unknown" in gone.stderr.lower(), gone.stderr

    tools.run("podman", "logout", stack.host)  # the login both tools share
    refused = tools.run(
        "skopeo", "inspect", "--tls-verify=false", f"docker://{target_ref}:copied", check=False
    )
    assert refused.returncode != 0  # a private project, and nobody logged in
