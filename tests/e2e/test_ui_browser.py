"""The web UI in a real browser (Debian's chromium through Playwright) against a whole
running instance: sign in, create a project, add a member, see an artifact pushed with
skopeo, copy its pull command, delete a tag, run GC and watch it finish, create a
replication rule to this instance's own registry endpoint and run it, switch to 简体中文;
create a robot account and see its secret once (skopeo logs in with it), add a tag
immutability rule and see a tag delete refused. Screenshots of the main pages go to
docs/screenshots/ (the Chinese one needs a CJK font: deploy/install-system.sh test)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = "/usr/bin/chromium"
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def page(stack: Instance) -> Iterator[object]:
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium is not installed (deploy/install-system.sh test)")
    with playwright_api.sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context(
            base_url=stack.url,
            viewport={"width": 1366, "height": 800},  # a laptop screen
            locale="en-US",
        )
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
        tab = context.new_page()
        tab.set_default_timeout(20_000)
        yield tab
        browser.close()


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def test_the_ui_end_to_end(stack: Instance, page, tmp_path: Path):
    expect = playwright_api.expect
    suffix = uuid.uuid4().hex[:6]
    project, member = f"web-{suffix}", f"dev-{suffix}"
    stack.create_user(member)

    # Sign in (a wrong password first: the form says why).
    page.goto("/")
    expect(page).to_have_url(f"{stack.url}/account/sign-in?next=/")
    page.get_by_label("Username or email").fill("admin")
    page.get_by_label("Password").fill("wrong")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_text("Invalid username or password.")).to_be_visible()
    shot(page, "sign-in")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Dashboard")).to_be_visible()

    # Create a project; add a member.
    page.get_by_role("link", name="Projects", exact=True).click()
    page.get_by_role("link", name="New project").click()
    page.get_by_label("Project name").fill(project)
    page.get_by_role("button", name="Create").click()
    expect(page.get_by_role("heading", name=project)).to_be_visible()
    page.get_by_role("link", name="Members").click()
    page.get_by_label("User or group name").fill(member)
    page.get_by_label("Role", exact=True).select_option(label="Developer")
    page.get_by_role("button", name="Add member").click()
    expect(page.get_by_role("cell", name=member)).to_be_visible()
    shot(page, "project-members")

    # An artifact pushed with skopeo shows up; copy its pull command.
    image = make_image(tmp_path / "img", layer_sizes=[50_000, 2_000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v2", creds=ADMIN)
    page.get_by_role("link", name="Repositories").click()
    page.get_by_role("link", name=f"{project}/app").click()
    page.locator("table a.mono").first.click()
    expect(page.get_by_role("heading", name="Tags")).to_be_visible()
    shot(page, "artifact")
    docker_copy = page.locator("#cmd-tag-docker + button")
    docker_copy.click()
    expect(docker_copy).to_have_text("Copied")
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied == f"docker pull {stack.host}/{project}/app:v2" or copied.endswith(":v1")

    # Delete a tag, after the confirmation page.
    page.get_by_role("link", name="Delete tag v2").click()
    expect(page.get_by_role("heading", name=f"Delete tag v2 of {project}/app?")).to_be_visible()
    page.get_by_role("button", name="Yes, delete").click()
    expect(page.get_by_text("Tag v2 deleted.")).to_be_visible()
    expect(page.locator("#tags")).not_to_contain_text("v2")
    tags = skopeo("list-tags", f"docker://{stack.host}/{project}/app", creds=ADMIN).stdout
    assert '"v1"' in tags and '"v2"' not in tags

    # Run GC and watch it finish (the panel refreshes itself).
    page.get_by_role("link", name="Garbage collection").click()
    page.get_by_label("Dry run").check()
    page.get_by_role("button", name="Run GC now").click()
    expect(page.locator("#job-status")).to_have_text("Success", timeout=120_000)
    shot(page, "gc")

    # A replication rule to this instance's own registry endpoint, run from the UI.
    page.get_by_role("link", name="Registries").click()
    page.locator("#id_name").fill(f"self-{suffix}")
    page.get_by_label("Endpoint URL").fill(stack.url)
    page.get_by_label("Access ID").fill("admin")
    page.get_by_label("Access secret").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Connection OK")).to_be_visible()
    page.get_by_label("Access secret").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create", exact=True).click()
    expect(page.get_by_role("cell", name=f"self-{suffix}")).to_be_visible()
    target = f"copy-{suffix}"
    stack.create_project(target)
    page.get_by_role("link", name="Replication").click()
    page.locator("#id_name").fill(f"rule-{suffix}")
    page.get_by_label("Remote registry").select_option(label=f"self-{suffix}")
    page.get_by_label("Source repository filter").fill(f"{project}/**")
    page.get_by_label("Destination namespace").fill(target)
    page.get_by_role("button", name="Create rule").click()
    page.get_by_role("button", name=f"Replicate rule-{suffix} now").click()
    expect(page.locator("#job-status")).to_have_text("Success", timeout=180_000)
    expect(page.get_by_role("cell", name=f"{target}/app:[v1]")).to_be_visible()
    shot(page, "replication")
    skopeo("inspect", f"docker://{stack.host}/{target}/app:v1", creds=ADMIN)

    page.get_by_role("link", name="Audit log").click()
    shot(page, "audit-log")
    page.get_by_role("link", name="Dashboard").click()
    shot(page, "dashboard")
    page.get_by_role("link", name="Projects", exact=True).click()
    shot(page, "projects")

    # Switch to Simplified Chinese.
    page.get_by_label("Language").select_option("zh-hans")
    expect(page.get_by_role("heading", name="项目")).to_be_visible()
    assert page.locator("html").get_attribute("lang") == "zh-hans"
    shot(page, "projects-zh-hans")


def in_english(page, stack: Instance) -> None:
    """Signed in as admin, in English, whatever an earlier test left."""
    page.goto("/projects/")
    if "/account/sign-in" in page.url:
        page.locator("#id_principal").fill("admin")
        page.locator("#id_password").fill(ADMIN_PASSWORD)
        page.locator("form.stacked button[type=submit]").click()
        page.goto("/projects/")
    if page.locator("html").get_attribute("lang") != "en":
        page.locator("#language").select_option("en")
    playwright_api.expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def create_robot(page, full_name: str) -> str:
    """Submit the robot form; the answer shows the secret, this once."""
    page.get_by_role("button", name="Create robot account").click()
    heading = page.get_by_role("heading", name=f"Secret of {full_name}")
    playwright_api.expect(heading).to_be_visible()
    return page.locator("#robot-secret").inner_text()


def tags_seen_by(stack: Instance, repository: str, creds: tuple[str, str]) -> str:
    return skopeo("list-tags", f"docker://{stack.host}/{repository}", creds=creds).stdout


def test_robot_secret_once_and_immutable_tags(stack: Instance, page, tmp_path: Path):
    expect = playwright_api.expect
    project = f"ci-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    image = make_image(tmp_path / "img", layer_sizes=[30_000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    in_english(page, stack)
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=project, exact=True))
    expect(row).to_contain_text("/ unlimited")  # the quota column: usage / limit

    # A robot that may pull and push in this project; its secret is shown once.
    page.goto(f"/projects/{project}/robots")
    page.get_by_label("Robot name").fill("ci")
    page.locator('input[value="repository:pull"]').check()
    page.locator('input[value="repository:push"]').check()
    page.get_by_label("Never expires").check()
    robot = f"robot${project}+ci"
    secret = create_robot(page, robot)
    assert len(secret) == 32
    copy = page.locator('button[aria-describedby="robot-secret"]')
    expect(copy).to_have_text("Copy secret")
    copy.click()
    expect(copy).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == secret
    assert '"v1"' in tags_seen_by(stack, f"{project}/app", (robot, secret))
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("cell", name=robot, exact=True)).to_be_visible()
    assert secret not in page.content()
    shot(page, "project-robots")
    page.reload()
    assert secret not in page.content()  # never shown again

    # A system robot that pulls from every project, made on the sysadmins' page.
    page.get_by_role("link", name="Robots", exact=True).click()
    page.get_by_label("Robot name").fill(f"puller-{project}")
    page.locator('input[name="permissions"][value="repository:pull"]').check()
    page.get_by_label("All projects").check()
    puller = f"robot$puller-{project}"
    puller_secret = create_robot(page, puller)
    assert '"v1"' in tags_seen_by(stack, f"{project}/app", (puller, puller_secret))
    page.get_by_role("link", name="Done").click()
    expect(page.get_by_role("row").filter(has_text=puller)).to_contain_text("All projects")
    shot(page, "robots")
    page.goto(f"/projects/{project}/robots")

    # An immutability rule for v* tags; the artifact's v1 gets the badge, its delete is refused.
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Configuration").click()
    page.get_by_label("Repository pattern").fill("**")
    page.get_by_label("Tag pattern").fill("v*")
    page.get_by_role("button", name="Add rule").click()
    expect(page.get_by_text("Immutability rule added.")).to_be_visible()
    expect(page.locator("#immutability-rules")).to_contain_text("v*")
    page.locator("#rules-title").evaluate("heading => heading.scrollIntoView()")
    shot(page, "project-immutability")
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Repositories").click()
    page.get_by_role("link", name=f"{project}/app").click()
    expect(page.locator(".badge.immutable")).to_have_count(1)
    page.locator("table a.mono").first.click()
    page.get_by_role("link", name="Delete tag v1").click()
    page.get_by_role("button", name="Yes, delete").click()
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text(f"{project}/app:v1 is immutable")
    expect(page.locator("#tags")).to_contain_text("v1")
    assert '"v1"' in tags_seen_by(stack, f"{project}/app", ADMIN)
