"""The web UI in a real browser (Debian's chromium through Playwright) against a whole
running instance: sign in, create a project, add a member, see an artifact pushed with
skopeo, copy its pull command, delete a tag, run GC and watch it finish, create a
replication rule to this instance's own registry endpoint and run it, switch to 简体中文;
create a robot account and see its secret once (skopeo logs in with it), add a tag
immutability rule and see a tag delete refused. Screenshots of the main pages go to
docs/screenshots/ (the Chinese one needs a CJK font: deploy/install-system.sh test)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.browser import LAPTOP, chromium, new_tab, sign_in, signed_in
from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

playwright_api = pytest.importorskip("playwright.sync_api")
SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
ADMIN = ("admin", ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def page(stack: Instance) -> Iterator[object]:
    with chromium() as browser:
        context, tab = new_tab(browser, stack.url, viewport=LAPTOP, locale="en-US")
        context.grant_permissions(["clipboard-read", "clipboard-write"], origin=stack.url)
        yield tab


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
    expect(page.get_by_role("cell", name=f"self-{suffix}", exact=True)).to_be_visible()
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
        sign_in(page, ADMIN)
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
    expect(page.get_by_role("button", name="Delete tag v1")).to_be_disabled()
    artifact_page = page.url
    page.goto(f"{artifact_page}/tags/v1/delete")  # typed: refused before any confirmation
    refusal = page.get_by_role("alert")
    expect(refusal).to_contain_text(f"{project}/app:v1 is immutable")
    page.goto(artifact_page)
    expect(page.locator("#tags")).to_contain_text("v1")
    assert '"v1"' in tags_seen_by(stack, f"{project}/app", ADMIN)


# -- #28: the rough edges, at a laptop and a phone size, in English and 简体中文 -------------


def focused_id(page) -> str:
    return page.evaluate("document.activeElement && document.activeElement.id")


def test_rough_edges_fixed(stack: Instance, page, tmp_path: Path):
    expect = playwright_api.expect
    project = f"edge-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    image = make_image(tmp_path / "img", layer_sizes=[20_000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    browser = page.context.browser

    # Sign-in: the name field has the focus, the password after a failure; a favicon.
    context = browser.new_context(base_url=stack.url, locale="en-US")
    fresh = context.new_page()
    fresh.goto("/account/sign-in")
    assert focused_id(fresh) == "id_principal"
    assert fresh.locator("#id_principal").get_attribute("autocomplete") == "username"
    fresh.locator("#id_principal").fill("admin")
    fresh.locator("#id_password").fill("wrong")
    fresh.get_by_role("button", name="Sign in").click()
    expect(fresh.get_by_text("Invalid username or password.")).to_be_visible()
    assert focused_id(fresh) == "id_password"
    assert fresh.request.get("/static/frontend/favicon.svg").ok
    # htmx is served from its npm package (collectstatic found it in node_modules).
    assert fresh.request.get("/static/vendor/htmx.org/htmx.min.js").ok
    context.close()

    in_english(page, stack)
    # 1. An unknown address is a page of the UI.
    page.goto("/projects/no/such/page/really")
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the dashboard")).to_be_visible()

    # 2. The repository's help keeps its <tag>.
    page.goto(f"/projects/{project}/repositories/app/")
    expect(page.get_by_text("Replace <tag> by a tag below")).to_be_visible()

    # 6. An immutable tag: its Delete and the artifact's are disabled, with the reason.
    stack_rule = {
        "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}],
        "scope_selectors": {
            "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
        },
    }
    with stack.client() as api:
        api.post(f"/api/v2.0/projects/{project}/immutabletagrules", json=stack_rule)
    page.reload()
    page.locator("table a.mono").first.click()
    expect(page.get_by_role("button", name="Delete tag v1")).to_be_disabled()
    expect(page.get_by_role("button", name="Delete artifact")).to_be_disabled()
    expect(page.get_by_text("Immutable tags cannot be deleted")).to_be_visible()
    expect(page.get_by_role("heading", name="app:v1")).to_be_visible()  # not a small digest

    # 18. A confirmation page gives the focus to Cancel, not to the destructive button.
    page.goto(f"/projects/{project}/delete")
    assert page.evaluate("document.activeElement.textContent.trim()") == "Cancel"

    # 3. Reloading the robot-secret page sends no form again and shows no secret.
    page.goto(f"/projects/{project}/robots")
    expect(page.get_by_text("Nothing here yet.")).to_have_count(0)  # one empty state
    page.get_by_label("Robot name").fill("reload")
    page.locator('input[value="repository:pull"]').check()
    page.get_by_label("Never expires").check()
    secret = create_robot(page, f"robot${project}+reload")
    page.reload()
    expect(page.get_by_text("This secret has been shown already.")).to_be_visible()
    assert secret not in page.content()

    # 4. Test connection keeps the secret; the registry is healthy; edit; cron only when
    # the trigger is scheduled.
    page.goto("/admin/registries")
    name = f"self-{project}"
    page.locator("#id_name").fill(name)
    page.get_by_label("Endpoint URL").fill(stack.url)
    page.get_by_label("Access ID").fill("admin")
    page.get_by_label("Access secret").fill(ADMIN_PASSWORD)
    page.get_by_role("button", name="Test connection").click()
    expect(page.get_by_text("Connection OK")).to_be_visible()
    expect(page.get_by_label("Access secret")).to_have_value(ADMIN_PASSWORD)
    page.get_by_role("button", name="Create", exact=True).click()
    row = page.get_by_role("row").filter(has_text=name)
    expect(row).to_contain_text("healthy")
    expect(row).not_to_contain_text("unknown")
    row.get_by_role("link", name=f"Edit {name}").click()
    page.get_by_label("Description").fill("this instance")
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_text(f"Registry {name} saved.")).to_be_visible()
    page.goto("/admin/replications")
    cron = page.locator("#id_cron")
    expect(cron).to_be_hidden()
    page.get_by_label("Trigger").select_option("scheduled")
    expect(cron).to_be_visible()
    page.locator("#id_name").fill(f"rule-{project}")
    page.get_by_role("button", name="Create rule").click()
    # 7. The refusal is worded for people and sits next to the cron field.
    error = page.locator("div:has(> #id_cron) .errorlist")
    expect(error).to_have_text("A scheduled trigger needs a cron expression.")
    page.get_by_label("Trigger").select_option("manual")
    page.get_by_role("button", name="Create rule").click()
    page.get_by_role("link", name=f"Edit rule-{project}").click()
    expect(page.get_by_label("Trigger")).to_have_value("manual")

    # 5. The audit filter after Back shows the filter of the rows shown.
    page.goto("/admin/audit")
    page.get_by_label("User", exact=True).fill("admin")
    page.get_by_role("button", name="Filter").click()
    expect(page).to_have_url(re.compile(r"username=admin"))
    page.go_back()
    expect(page).to_have_url(f"{stack.url}/admin/audit")
    expect(page.get_by_label("User", exact=True)).to_have_value("")

    # 8. Sizes as entered: 10 GiB is "10 GiB"; unlimited is a word.
    page.goto(f"/projects/{project}/configuration")
    page.locator("#id_hard_0").fill("10")
    page.locator("#id_hard_1").select_option("GiB")
    page.get_by_role("button", name="Save storage limit").click()
    expect(page.locator("#quota-usage")).to_contain_text("of 10\u00a0GiB.")
    page.locator("#id_hard_0").fill("")
    page.locator("#id_hard_1").select_option("unlimited")
    page.get_by_role("button", name="Save storage limit").click()
    expect(page.locator("#quota-usage")).to_contain_text("unlimited quota")

    # 15. LDAP settings show only under LDAP authentication.
    page.goto("/admin/configuration")
    expect(page.get_by_label("Authentication mode")).to_have_value("db_auth")
    expect(page.get_by_label("LDAP URL")).to_be_hidden()
    page.get_by_label("Authentication mode").select_option("ldap_auth")
    expect(page.get_by_label("LDAP URL")).to_be_visible()
    page.get_by_role("link", name="Storage quotas").click()
    expect(page.get_by_label("Authentication mode")).to_be_hidden()

    # 16. The language select does not switch on arrow keys; Enter does.
    page.goto("/projects/")
    page.locator("#language").focus()
    page.keyboard.press("ArrowDown")
    page.wait_for_timeout(500)
    assert page.locator("html").get_attribute("lang") == "en"
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", name="项目")).to_be_visible()
    page.locator("#language").select_option("en")
    expect(page.get_by_role("heading", name="Projects")).to_be_visible()


def test_phone_size_header_menu_and_tables(stack: Instance, page):
    expect = playwright_api.expect
    context, phone = signed_in(
        page.context.browser,
        stack.url,
        ADMIN,
        viewport={"width": 390, "height": 844},
        locale="en-US",
        is_mobile=True,
        has_touch=True,
    )
    header = phone.locator("header.top")
    assert header.bounding_box()["height"] < 70  # one row, not six
    menu = phone.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(phone.get_by_role("navigation", name="Main")).to_be_hidden()
    menu.click()
    expect(menu).to_have_attribute("aria-expanded", "true")
    phone.get_by_role("navigation", name="Main").get_by_role("link", name="Audit log").click()
    expect(phone.get_by_role("heading", name="Audit log")).to_be_visible()
    wrap = phone.locator(".table-wrap").first
    # The table scrolls inside its frame, whose edge shadow says there is more.
    assert wrap.evaluate("w => w.scrollWidth > w.clientWidth")
    assert "radial-gradient" in wrap.evaluate("w => getComputedStyle(w).backgroundImage")
    assert phone.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    phone.screenshot(path=str(SHOTS / "phone-audit-log.png"))
    context.close()


UNTRANSLATED_JS = """([msgids, patterns]) => {
  const wanted = new Set(msgids), seen = new Set();
  const formats = patterns.map(([msgid, source]) => [msgid, new RegExp('^' + source + '$')]);
  const check = text => {
    for (const line of text.split('\\n')) {
      const trimmed = line.trim();
      if (wanted.has(trimmed)) seen.add(trimmed);
      for (const [msgid, format] of formats) if (format.test(trimmed)) seen.add(msgid);
    }
  };
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const parent = node.parentElement;
    // Commands, digests and names are not words; the job log (pre.log) is.
    if (!parent || parent.closest('script, style, code, .mono, pre:not(.log)')) continue;
    check(node.textContent);
  }
  for (const el of document.querySelectorAll('[aria-label], [title], [placeholder]')) {
    for (const name of ['aria-label', 'title', 'placeholder']) check(el.getAttribute(name) || '');
  }
  return [...seen];
}"""
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")


def _translated_entries() -> list:
    polib = pytest.importorskip("polib")
    catalogue = Path(__file__).resolve().parents[2] / "frontend/locale/zh_Hans/LC_MESSAGES"
    return [
        entry
        for entry in polib.pofile(str(catalogue / "django.po"))
        if entry.msgstr and entry.msgstr != entry.msgid
    ]


def untranslated_msgids() -> list[str]:
    """The UI's English strings that have a different 简体中文 translation: seen on a page
    in 简体中文, they are a string that missed its translation."""
    return [entry.msgid for entry in _translated_entries() if "%" not in entry.msgid]


def untranslated_formats() -> list[tuple[str, str]]:
    """The same for strings with placeholders ("GC finished: %(pairs)s"), as (msgid, a
    JavaScript regular expression of the English text); those whose words are too few to
    tell them from anything else ("%(key)s: %(value)s") are left out."""
    formats = []
    for entry in _translated_entries():
        if (
            "%(" not in entry.msgid
            or len(re.findall(r"[A-Za-z]{3,}", PLACEHOLDER.sub("", entry.msgid))) < 2
        ):
            continue
        parts = PLACEHOLDER.split(entry.msgid)[::2]  # the literal text between placeholders
        formats.append((entry.msgid, ".+?".join(re.escape(part) for part in parts)))
    return formats


SYSTEM_PAGES = [  # a sysadmin's pages outside the projects
    "/account/password",
    "/admin/users",
    "/admin/groups",
    "/admin/configuration",
    "/admin/robots",
    "/admin/audit",
    "/admin/gc",
    "/admin/registries",
    "/admin/replications",
    "/admin/quotas",
    "/admin/labels",
    # this wave's pages: scanning, signatures, job service
    "/admin/scanners",
    "/admin/security",
    "/admin/trusted-keys",
    "/admin/jobservice",
]
# a project's tabs that this wave added (webhooks, tag retention): for its admins
PROJECT_ADMIN_TABS = ["webhooks", "retention"]


def _admin_only_pages(stack: Instance, project: str, guest_id: int) -> list[str]:
    """Pages reached from a row (edit, confirm), with the rows made through the API."""
    with stack.client() as api:
        registry = api.post(
            "/api/v2.0/registries",
            json={"name": f"r-{project}", "type": "harbor", "url": "http://127.0.0.1:9"},
        )
        registry_id = int(registry.headers["Location"].rsplit("/", 1)[1])
        policy = api.post(
            "/api/v2.0/replication/policies",
            json={
                "name": f"p-{project}",
                "dest_registry": {"id": registry_id},
                "trigger": {"type": "manual"},
                "enabled": True,
            },
        )
        policy_id = int(policy.headers["Location"].rsplit("/", 1)[1])
        selector = {"kind": "doublestar", "pattern": "**"}
        rule = api.post(
            f"/api/v2.0/projects/{project}/immutabletagrules",
            json={
                "tag_selectors": [{**selector, "decoration": "matches", "pattern": "keep-*"}],
                "scope_selectors": {"repository": [{**selector, "decoration": "repoMatches"}]},
            },
        )
        rule_id = int(rule.headers["Location"].rsplit("/", 1)[1])
        robot = api.post(
            "/api/v2.0/robots",
            json={
                "name": "walker",
                "level": "project",
                "duration": -1,
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": project,
                        "access": [{"resource": "repository", "action": "pull"}],
                    }
                ],
            },
        )
        robot_id = robot.json()["id"]
    return [
        f"/admin/registries/{registry_id}/edit",
        f"/admin/registries/{registry_id}/delete",
        f"/admin/replications/{policy_id}/edit",
        f"/admin/replications/{policy_id}/delete",
        f"/projects/{project}/immutability/{rule_id}",
        f"/projects/{project}/immutability/{rule_id}/delete",
        f"/projects/{project}/robots/{robot_id}/edit",
        f"/projects/{project}/robots/{robot_id}/delete",
        f"/projects/{project}/robots/{robot_id}/secret",
        f"/admin/users/{guest_id}/password",
        f"/admin/users/{guest_id}/delete",
    ]


def _gc_dry_run(tab) -> str:
    """Run a dry-run GC from its page; the run's page once it has finished (its log)."""
    tab.goto("/admin/gc")
    tab.locator("#id_dry_run").check()
    tab.locator("button[name=run]").click()
    tab.wait_for_url(re.compile(r"/admin/gc/\d+$"))
    playwright_api.expect(tab.locator("#job-panel[hx-get]")).to_have_count(0, timeout=60_000)
    return urlsplit(tab.url).path


def test_every_page_is_translated_in_chinese(stack: Instance, page, tmp_path: Path):
    """Walk the UI in 简体中文 as admin, as a guest and signed out: no page shows an
    English string of the catalogue (a msgid whose translation exists but was not used),
    with or without placeholders (the GC log's lines, "Page 1 of 2", ...)."""
    project = f"zh-{uuid.uuid4().hex[:6]}"
    guest = (f"guest-{project}", "Passw0rd!x")
    stack.create_project(project)
    guest_id = stack.create_user(guest[0], guest[1])
    stack.add_member(project, guest[0], 3)  # guest
    image = make_image(tmp_path / "img", layer_sizes=[10_000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    with stack.client() as api:
        digest = api.get(f"/api/v2.0/projects/{project}/repositories/app/artifacts").json()[0][
            "digest"
        ]
    checked = [untranslated_msgids(), untranslated_formats()]
    artifact = f"/projects/{project}/repositories/app/-/artifacts/{digest}"
    project_pages = [
        f"/projects/{project}/",
        f"/projects/{project}/repositories",
        f"/projects/{project}/repositories/app/",
        artifact,
        f"/projects/{project}/members",
        f"/projects/{project}/labels",
        f"/projects/{project}/logs",
        f"/projects/{project}/robots",
    ]
    admin_pages = [
        "/",
        "/projects/",
        "/projects/new",
        *project_pages,
        f"/projects/{project}/configuration",
        *(f"/projects/{project}/{tab}" for tab in PROJECT_ADMIN_TABS),
        f"/projects/{project}/delete",
        f"{artifact}/tags/v1/delete",
        f"{artifact}/delete",
        *SYSTEM_PAGES,
        f"/search?q={project}",
        "/no/such/page",
        *_admin_only_pages(stack, project, guest_id),
    ]
    found: dict[str, list[str]] = {}

    def walk(tab, who: str, pages: list[str]) -> None:
        for path in pages:
            tab.goto(path)
            assert tab.locator("html").get_attribute("lang") == "zh-hans"
            missed = tab.evaluate(UNTRANSLATED_JS, checked)
            if missed:
                found[f"{who} {path}"] = missed

    guest_pages = [
        "/",
        "/projects/",
        *project_pages,
        *(f"/projects/{project}/{tab}" for tab in PROJECT_ADMIN_TABS),  # refused, in Chinese
        "/admin/security",  # refused: a sysadmin's
    ]
    for user, pages in ((ADMIN, admin_pages), (guest, guest_pages)):
        context, tab = signed_in(page.context.browser, stack.url, user, locale="zh-CN")
        if user == ADMIN:
            pages = [*pages, _gc_dry_run(tab)]
        walk(tab, user[0], pages)
        context.close()
    signed_out = page.context.browser.new_context(base_url=stack.url, locale="zh-CN")
    tab = signed_out.new_page()
    signed_out_pages = ["/account/sign-in", f"/account/sign-in?next=/projects/{project}/"]
    walk(tab, "signed out", ["/c/oidc/login", *signed_out_pages])  # OIDC: not enabled
    tab.locator("#id_principal").fill("nobody")
    tab.locator("#id_password").fill("wrong")
    tab.locator("form.stacked button[type=submit]").click()
    missed = tab.evaluate(UNTRANSLATED_JS, checked)
    assert not missed, missed
    signed_out.close()
    assert found == {}


def test_portal_pages(stack: Instance, page, tmp_path: Path):
    """Summary tab with push commands, labels on artifacts and as a filter, the global
    search, the quota overview, global labels, the dark theme."""
    expect = playwright_api.expect
    project = f"portal-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    in_english(page, stack)
    # An empty project tells how to push, with every tool.
    page.goto(f"/projects/{project}/repositories")
    helper = page.get_by_role("region", name="Push commands")
    for tool in ("docker", "podman", "helm", "oras", "skopeo"):
        expect(helper.locator(f"#cmd-push-{tool}")).to_be_visible()
    expect(helper.locator("#cmd-push-helm")).to_contain_text(f"oci://{stack.host}/{project}")
    image = make_image(tmp_path / "img", layer_sizes=[10_000])
    for tag in ("v1", "v2"):
        skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:{tag}", creds=ADMIN)
    other = make_image(tmp_path / "other", layer_sizes=[12_000])
    skopeo("copy", other.ref, f"docker://{stack.host}/{project}/app:v3", creds=ADMIN)
    page.get_by_role("navigation", name="Project").get_by_role("link", name="Summary").click()
    expect(page.locator("#summary-repositories")).to_have_text("1")
    expect(page.get_by_role("heading", name="Members by role")).to_be_visible()
    expect(page.get_by_role("heading", name="Push commands")).to_be_visible()
    shot(page, "project-summary")

    # A project label, attached to the artifact of v3, then used as a filter.
    page.goto(f"/projects/{project}/labels")
    page.get_by_label("Label name").fill("release")
    page.get_by_role("button", name="Create label").click()
    page.goto(f"/projects/{project}/repositories/app/?tag=v3")
    page.locator("table a.mono").first.click()
    page.get_by_label("Add a label").select_option(label="release")
    page.get_by_role("button", name="Add label").click()
    expect(page.get_by_text("Label release added.")).to_be_visible()
    expect(page.locator("#artifact-labels")).to_contain_text("release")
    page.goto(f"/projects/{project}/repositories/app/")
    expect(page.locator("tbody tr")).to_have_count(2)
    page.get_by_label("Label", exact=True).select_option(label="release")
    page.get_by_role("button", name="Search").click()
    expect(page.locator("tbody tr")).to_have_count(1)
    expect(page.locator("tbody tr")).to_contain_text("v3")

    # Copy the v3 artifact into another project's repository with a new tag (retag).
    target = f"{project}-copy"
    stack.create_project(target)
    page.goto(f"/projects/{project}/repositories/app/?tag=v3")
    page.locator("table a.mono").first.click()
    page.get_by_label("Target project").fill(target)
    page.get_by_label("Target repository").fill("mirror/app")
    page.get_by_role("region", name="Copy or retag").get_by_label("New tag").fill("stable")
    page.get_by_role("region", name="Copy or retag").get_by_role("button", name="Copy").click()
    expect(page.get_by_text(f"Copied to {target}/mirror/app.")).to_be_visible()
    expect(page.locator("#tags")).to_contain_text("stable")
    copied = skopeo("list-tags", f"docker://{stack.host}/{target}/mirror/app", creds=ADMIN)
    assert '"stable"' in copied.stdout and '"v3"' in copied.stdout

    # The global search in the header.
    page.get_by_label("Search projects and repositories").fill(project)
    page.keyboard.press("Enter")
    expect(page.get_by_role("link", name=project, exact=True)).to_be_visible()
    expect(page.get_by_role("link", name=f"{project}/app")).to_be_visible()

    # The quota overview sorts by a column; global labels.
    page.goto("/admin/quotas?sort=-used")
    expect(page.get_by_role("columnheader", name="Used")).to_have_attribute(
        "aria-sort", "descending"
    )
    page.get_by_role("link", name="Used").click()
    expect(page.get_by_role("columnheader", name="Used")).to_have_attribute(
        "aria-sort", "ascending"
    )
    page.goto("/admin/labels")
    page.get_by_label("Label name").fill(f"ok-{project}")
    page.get_by_role("button", name="Create label").click()
    expect(page.get_by_role("cell", name=f"ok-{project}", exact=True)).to_be_visible()

    # The dark theme: the toggle switches and is remembered across pages.
    toggle = page.get_by_role("button", name="Dark theme")
    expect(toggle).to_have_attribute("aria-pressed", "false")
    toggle.click()
    expect(toggle).to_have_attribute("aria-pressed", "true")
    page.goto("/projects/")
    assert page.locator("html").get_attribute("data-theme") == "dark"
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(14, 20, 27)"
    shot(page, "projects-dark")
    page.get_by_role("button", name="Dark theme").click()
    assert page.locator("html").get_attribute("data-theme") == "light"


def test_robot_permission_presets_and_select_all(stack: Instance, page):
    """The robot form's matrix: a preset checks its boxes, a row and a column header
    select all of theirs, features this server lacks are not offered; the robot gets
    exactly what the boxes say."""
    expect = playwright_api.expect
    project = f"matrix-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    in_english(page, stack)
    page.goto(f"/projects/{project}/robots")
    box = page.locator
    assert box('input[value^="preheat-policy:"]').count() == 0
    page.get_by_label("Preset").select_option(label="Pull only")
    expect(box('input[value="repository:pull"]')).to_be_checked()
    expect(box('input[value="tag:list"]')).to_be_checked()
    expect(box('input[value="repository:push"]')).not_to_be_checked()
    page.get_by_label("label: every action", exact=True).check()  # a row
    for action in ("create", "read", "update", "delete", "list"):
        expect(box(f'input[value="label:{action}"]')).to_be_checked()
    page.get_by_label("delete: all resources", exact=True).check()  # a column
    expect(box('input[value="tag:delete"]')).to_be_checked()
    expect(box('input[value="project:delete"]')).to_be_checked()
    box('input[value="project:delete"]').uncheck()
    expect(page.get_by_label("delete: all resources", exact=True)).not_to_be_checked()
    page.get_by_label("Robot name").fill("matrix")
    page.get_by_label("Never expires").check()
    page.get_by_label("Preset").select_option("")  # custom: the boxes as they are
    create_robot(page, f"robot${project}+matrix")
    page.get_by_role("link", name="Done").click()
    page.get_by_role("link", name=f"Edit robot${project}+matrix").click()
    checked = box("[data-perm-matrix] td input:checked")
    values = sorted(checked.nth(i).get_attribute("value") for i in range(checked.count()))
    deletes = [v for v in values if v.endswith(":delete")]
    assert "project:delete" not in values and "tag:delete" in deletes
    assert {"repository:pull", "tag:list", "label:create", "label:update"} <= set(values)
    assert "repository:push" not in values
    shot(page, "robot-permissions")


def widths(page, selectors: list[str]) -> dict[str, float]:
    return {s: round(page.locator(s).bounding_box()["width"]) for s in selectors}


def test_even_field_widths(stack: Instance, page):
    """The users form, the audit log's filters and the immutability rule form: the fields
    of each are as wide as one another (an email field was narrower, a date filter too)."""
    project = f"widths-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    in_english(page, stack)
    forms = {
        "/admin/users": ["#id_username", "#id_email", "#id_realname", "#id_password"],
        "/admin/audit": ["#f-username", "#f-operation", "#f-resource-type", "#f-from", "#f-to"],
        f"/projects/{project}/configuration": [
            "#id_repository_decoration",
            "#id_repository_pattern",
            "#id_tag_decoration",
            "#id_tag_pattern",
            "#id_priority",
        ],
    }
    for url, selectors in forms.items():
        page.goto(url)
        measured = widths(page, selectors)
        assert len(set(measured.values())) == 1, (url, measured)


def test_columns_hidden_are_remembered_on_the_server(stack: Instance, page):
    """Hide the projects list's "Created" and "Quota used" columns with the Columns menu;
    another browser (a fresh context: no cookie, no localStorage) signed in as the same
    user sees them hidden too; showing them again brings them back."""
    expect = playwright_api.expect
    in_english(page, stack)
    page.goto("/projects/")
    created = page.get_by_role("columnheader", name="Created")
    expect(created).to_be_visible()
    page.get_by_text("Columns", exact=True).click()
    menu = page.locator(".columns-menu")
    menu.get_by_label("Created").uncheck()
    menu.get_by_label("Quota used").uncheck()
    menu.get_by_role("button", name="Apply").click()
    expect(created).to_be_hidden()
    expect(page.get_by_role("columnheader", name="Quota used")).to_be_hidden()
    expect(page.get_by_role("columnheader", name="My role")).to_be_visible()
    context, other = signed_in(page.context.browser, stack.url, ADMIN, locale="en-US")
    other.goto("/projects/")
    expect(other.get_by_role("columnheader", name="Created")).to_be_hidden()
    expect(other.get_by_role("columnheader", name="Name")).to_be_visible()
    context.close()
    page.get_by_text("Columns", exact=True).click()
    menu.get_by_label("Created").check()
    menu.get_by_label("Quota used").check()
    menu.get_by_role("button", name="Apply").click()
    expect(created).to_be_visible()


ONE_LINE_JS = """cell => {
    const range = document.createRange();
    range.selectNodeContents(cell.firstChild);
    return range.getClientRects().length;
}"""
OVERFLOW_JS = """matrix => {
    const wrap = matrix.closest('.table-wrap'), card = matrix.closest('.card');
    return {
        beyondCard: wrap.getBoundingClientRect().right - card.getBoundingClientRect().right,
        hiddenWidth: wrap.scrollWidth - wrap.clientWidth,
    };
}"""


def test_robot_names_unbroken_and_matrix_inside_its_card(stack: Instance, page):
    """#28: a robot's name stays on one line in the robots table (it broke mid-word), and
    at 1366 px the permission matrix fits its card without scrolling (it overflowed), in
    both languages."""
    project = f"fit-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    in_english(page, stack)
    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto(f"/projects/{project}/robots")
    page.get_by_label("Robot name").fill("continuous-integration-builder")
    page.get_by_label("Never expires").check()
    page.get_by_label("Preset").select_option(label="Pull only")
    create_robot(page, f"robot${project}+continuous-integration-builder")
    for language in ("en", "zh-hans"):
        page.goto(f"/projects/{project}/robots")
        if page.locator("html").get_attribute("lang") != language:
            page.locator("#language").select_option(language)
        name = page.locator("td.robot-name").first
        assert name.evaluate(ONE_LINE_JS) == 1, language
        fit = page.locator("[data-perm-matrix]").evaluate(OVERFLOW_JS)
        assert fit["beyondCard"] <= 0 and fit["hiddenWidth"] <= 0, (language, fit)
    in_english(page, stack)


def test_every_page_fits_a_phone_in_both_languages(stack: Instance, page, tmp_path: Path):
    """At 390 x 844, in English and 简体中文, no page of the UI is wider than the screen
    (wide tables scroll in their frame) and the header stays one row."""
    project = f"phone-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    image = make_image(tmp_path / "img", layer_sizes=[10_000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    base = f"/projects/{project}"
    pages = [
        "/",
        "/projects/",
        "/projects/new",
        f"{base}/",
        f"{base}/repositories",
        f"{base}/repositories/app/",
        f"{base}/members",
        f"{base}/labels",
        f"{base}/logs",
        f"{base}/robots",
        f"{base}/configuration",
        *(f"{base}/{tab}" for tab in PROJECT_ADMIN_TABS),
        *SYSTEM_PAGES,
        f"/search?q={project}",
    ]
    too_wide: dict[str, dict[str, float]] = {}
    for locale in ("en-US", "zh-CN"):
        context, phone = signed_in(
            page.context.browser,
            stack.url,
            ADMIN,
            viewport={"width": 390, "height": 844},
            locale=locale,
            is_mobile=True,
            has_touch=True,
        )
        for path in pages:
            phone.goto(path)
            width = phone.evaluate("document.documentElement.scrollWidth")
            header = phone.locator("header.top").bounding_box()["height"]
            if width > 390 or header >= 70:
                too_wide[f"{locale} {path}"] = {"width": width, "header": header}
        context.close()
    assert too_wide == {}


def test_webhook_form_errors_and_the_job_service_workers(stack: Instance, page):
    """#28: the webhook form shows each refusal next to its field at once; the job service
    page answers before the workers do, and their section then loads in place."""
    expect = playwright_api.expect
    project = f"hooks-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    in_english(page, stack)
    page.goto(f"/projects/{project}/webhooks")
    page.locator("#id_name").fill("ci")
    page.locator("#id_addresses").fill("ftp://example.com/\nftp://example.com/")
    page.get_by_role("button", name="Create webhook").click()
    errors = page.locator("ul.errorlist")
    expect(errors).to_have_count(1)
    expect(errors).to_contain_text("Each target URL once")
    page.locator("#id_addresses").fill("ftp://example.com/")
    page.get_by_role("button", name="Create webhook").click()
    expect(errors).to_contain_text("ftp://example.com/ cannot be a target")
    shot(page, "project-webhooks")
    page.goto("/admin/jobservice")
    expect(page.locator("#queues")).to_be_visible()
    expect(page.locator("#job-workers #pools")).to_be_visible(timeout=15_000)  # then loaded
    expect(page.locator("#job-workers [role=status]")).to_have_count(0)
    shot(page, "jobservice")
