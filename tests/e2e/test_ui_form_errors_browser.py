"""#28 in a real browser (Debian's chromium through Playwright): the group, member, scanner
registration, retention rule and trusted key forms show every field's error at once, each
next to its field (the error list just before the field's input, none at the top of the
form), in English and in 简体中文. One browser session; each test walks several forms."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator

import pytest

from tests.browser import LAPTOP, chromium, signed_in
from tests.stack import ADMIN_PASSWORD, Instance

playwright_api = pytest.importorskip("playwright.sync_api")
LANGUAGES = ("en", "zh-hans")

# The words each form's errors must say, by language (Django's own for its field checks;
# \uff08 \uff09: the full-width parentheses of the Chinese sentences).
REQUIRED = {"en": "This field is required.", "zh-hans": "此字段为必填项。"}
WORDS = {
    "en": {
        "dn": "An LDAP group needs its DN (at most 512 characters).",
        "no_user": "There is no user of this name.",
        "bad_role": "Select a valid choice. 99 is not one of the available choices.",
        "scanner_name": "A scanner named {name} is registered already.",
        "scanner_url": "A scanner with the endpoint {url} is registered already.",
        "count": "This rule needs a number.",
        "repository_pattern": "Not a valid repository pattern (",
        "tag_pattern": "Not a valid tag pattern (",
        "not_a_key": "This is not a PEM public key or X.509 certificate.",
    },
    "zh-hans": {
        "dn": "LDAP 组需要填写其 DN\uff08最多 512 个字符\uff09。",
        "no_user": "没有此名称的用户。",
        "bad_role": "选择一个有效的选项。 99 不在可用的选项中。",
        "scanner_name": "名为 {name} 的扫描器已注册。",
        "scanner_url": "端点为 {url} 的扫描器已注册。",
        "count": "此规则需要一个数值。",
        "repository_pattern": "不是有效的仓库模式\uff08",
        "tag_pattern": "不是有效的 Tag 模式\uff08",
        "not_a_key": "这不是 PEM 公钥或 X.509 证书。",
    },
}


@pytest.fixture(scope="module")
def page(stack: Instance) -> Iterator[object]:
    with chromium() as browser:
        _, tab = signed_in(browser, stack.url, ("admin", ADMIN_PASSWORD), viewport=LAPTOP)
        yield tab


def speak(page, language: str) -> None:
    page.goto("/projects/")
    if page.locator("html").get_attribute("lang") != language:
        page.locator("#language").select_option(language)
    playwright_api.expect(page.locator("html")).to_have_attribute("lang", language)


def submit(form) -> None:
    form.locator("button[type=submit]").click()


def beside(form, field: str):
    """The element right before the field's input: where its error list goes."""
    return form.locator(f"#id_{field}").locator("xpath=preceding-sibling::*[1]")


def expect_field_errors(form, errors: dict[str, str | re.Pattern[str]]) -> None:
    """Exactly these fields have an error, each in the list right before the field's input,
    and the form has none of its own at the top."""
    expect = playwright_api.expect
    for field, words in errors.items():  # waits for the answer to the submission
        expect(beside(form, field)).to_have_attribute("class", "errorlist")
        expect(beside(form, field)).to_have_text(words)
    expect(form.locator("ul.errorlist")).to_have_count(len(errors))
    expect(form.locator("ul.errorlist.nonfield")).to_have_count(0)


def beginning(words: str) -> re.Pattern[str]:
    return re.compile("^" + re.escape(words))


@pytest.mark.parametrize("language", LANGUAGES)
def test_group_member_and_scanner_forms_show_every_error_beside_its_field(
    stack: Instance, page, language: str
):
    words, required = WORDS[language], REQUIRED[language]
    project = f"errs-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    speak(page, language)

    # Group: an LDAP group without a name and without its DN.
    page.goto("/admin/groups")
    form = page.locator("form:has(#id_group_name)")
    form.locator("#id_group_type").select_option("1")
    submit(form)
    expect_field_errors(form, {"group_name": required, "ldap_group_dn": words["dn"]})

    # Member: an unknown user, with a role the server does not offer (a stale page).
    page.goto(f"/projects/{project}/members")
    form = page.locator("form:has(#id_role)")
    form.locator("#id_name").fill(f"nobody-{uuid.uuid4().hex[:6]}")
    form.locator("#id_role").evaluate("s => { s.add(new Option('99', '99')); s.value = '99'; }")
    submit(form)
    expect_field_errors(form, {"name": words["no_user"], "role": words["bad_role"]})

    # Scanner registration: the name and the endpoint of the registered built-in scanner.
    page.goto("/admin/scanners")
    registered = page.locator("#scanners tbody tr").count()
    cells = page.locator("#scanners tbody tr").first.locator("td")
    name, url = cells.nth(0).inner_text(), cells.nth(1).inner_text()
    form = page.locator("form:has(#id_url)")
    form.locator("#id_name").fill(name)
    form.locator("#id_url").fill(url)
    submit(form)
    expect_field_errors(
        form,
        {
            "name": words["scanner_name"].format(name=name),
            "url": words["scanner_url"].format(url=url),
        },
    )
    playwright_api.expect(page.locator("#scanners tbody tr")).to_have_count(registered)


@pytest.mark.parametrize("language", LANGUAGES)
def test_retention_rule_and_trusted_key_forms_show_every_error_beside_its_field(
    stack: Instance, page, language: str
):
    words, required = WORDS[language], REQUIRED[language]
    project = f"errs-{uuid.uuid4().hex[:6]}"
    stack.create_project(project)
    speak(page, language)

    # Retention rule: no count, and neither pattern is valid.
    page.goto(f"/projects/{project}/retention")
    form = page.locator("form:has(#id_tag_pattern)")
    form.locator("#id_template").select_option("latestPushedK")
    form.locator("#id_count").fill("")
    form.locator("#id_repository_pattern").fill("app/{a")
    form.locator("#id_tag_pattern").fill("v[1")
    submit(form)
    expect_field_errors(
        form,
        {
            "count": words["count"],
            "repository_pattern": beginning(words["repository_pattern"]),
            "tag_pattern": beginning(words["tag_pattern"]),
        },
    )

    # Trusted key, the system's and the project's: no name, and not a key.
    for where, action in (
        ("/admin/trusted-keys", "form:has(#id_public_key)"),
        (f"/projects/{project}/configuration", "form[action$='/trusted-keys']"),
    ):
        page.goto(where)
        form = page.locator(action)
        form.locator("#id_public_key").fill("not a key")
        submit(form)
        expect_field_errors(form, {"name": required, "public_key": words["not_a_key"]})
