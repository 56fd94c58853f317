"""The web UI's sign-in, projects and project tabs through Django's test client: the same
permissions as the API, CSRF on every POST, form errors shown."""

from __future__ import annotations

import pytest
from django.test import Client

from audit.models import AuditLog
from projects.models import Project, ProjectMember
from projects.roles import Role
from registry.models import Label
from tests.integration.conftest import PASSWORD
from tests.integration.registry_data import image

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser():
    def make(user=None, csrf: bool = False) -> Client:
        client = Client(enforce_csrf_checks=csrf)
        if user is not None:
            client.force_login(user)
        return client

    return make


def test_pages_need_sign_in():
    response = Client().get("/projects/")
    assert response.status_code == 302
    assert response["Location"] == "/account/sign-in?next=/projects/"


def test_sign_in_and_out_with_csrf(make_user):
    user = make_user("alice")
    client = Client(enforce_csrf_checks=True)
    page = client.get("/account/sign-in")
    assert page.status_code == 200
    token = page.cookies["__csrf"].value
    refused = client.post("/account/sign-in", {"principal": "alice", "password": PASSWORD})
    assert refused.status_code == 403  # no CSRF token
    wrong = client.post(
        "/account/sign-in",
        {"principal": "alice", "password": "nope", "csrfmiddlewaretoken": token},
    )
    assert wrong.status_code == 401
    assert "Invalid username or password." in wrong.content.decode()
    signed = client.post(
        "/account/sign-in",
        {"principal": "alice", "password": PASSWORD, "csrfmiddlewaretoken": token, "next": "/"},
    )
    assert signed.status_code == 302 and signed["Location"] == "/"
    assert client.get("/projects/").status_code == 200
    token = client.cookies["__csrf"].value
    out = client.post("/account/sign-out", {"csrfmiddlewaretoken": token})
    assert out.status_code == 302
    assert client.get("/projects/").status_code == 302
    assert AuditLog.objects.filter(username=user.username, operation="logout").exists()


def test_sign_in_refuses_an_open_redirect(make_user):
    make_user("bob")
    response = Client().post(
        "/account/sign-in",
        {"principal": "bob", "password": PASSWORD, "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


def test_sign_in_form_errors(make_user):
    response = Client().post("/account/sign-in", {"principal": "", "password": ""})
    body = response.content.decode()
    assert response.status_code == 200
    assert body.count('class="errorlist') == 2
    assert 'aria-invalid="true"' in body


def test_project_list_shows_what_the_caller_sees(make_user, make_project, browser):
    alice, bob = make_user("alice"), make_user("bob")
    make_project("open", public=True, owner=bob)
    make_project("secret", owner=bob)
    make_project("mine", owner=alice)
    body = browser(alice).get("/projects/").content.decode()
    assert "open" in body and "mine" in body and "secret" not in body
    searched = browser(alice).get("/projects/?name=min").content.decode()
    assert "mine" in searched and "open" not in searched
    public_only = browser(alice).get("/projects/?public=true").content.decode()
    assert "open" in public_only and ">mine<" not in public_only


def test_project_list_search_answers_htmx_with_the_table_only(make_user, make_project, browser):
    alice = make_user("alice")
    make_project("mine", owner=alice)
    response = browser(alice).get("/projects/?name=mi", HTTP_HX_REQUEST="true")
    body = response.content.decode()
    assert "<html" not in body and "mine" in body


def test_non_member_cannot_see_a_private_project(make_user, make_project, browser):
    outsider = make_user("outsider")
    make_project("secret")
    for tab in ("repositories", "members", "labels", "logs", "configuration"):
        response = browser(outsider).get(f"/projects/secret/{tab}")
        assert response.status_code == 404, tab
        assert "secret" not in response.content.decode().split("<main", 1)[1].split("(404)")[0]


def test_guest_sees_repositories_but_not_logs(make_user, make_project, browser):
    guest = make_user("guest")
    project = make_project("team", members={guest: Role.GUEST})
    image(project, "app", "v1")
    client = browser(guest)
    body = client.get("/projects/team/repositories").content.decode()
    assert "team/app" in body
    assert client.get("/projects/team/logs").status_code == 403
    assert "Add a member" not in client.get("/projects/team/members").content.decode()
    refused = client.post("/projects/team/members", {"kind": "user", "name": "x", "role": 2})
    assert refused.status_code == 403


def test_create_project_and_its_errors(make_user, make_project, browser):
    alice = make_user("alice")
    make_project("taken")
    client = browser(alice)
    bad = client.post("/projects/new", {"project_name": "Bad Name!"})
    assert bad.status_code == 400  # refused forms answer 400, as elsewhere
    assert "A project name is 1-255" in bad.content.decode()
    dup = client.post("/projects/new", {"project_name": "taken"})
    assert "already exists" in dup.content.decode()
    created = client.post("/projects/new", {"project_name": "fresh", "public": "on"})
    assert created.status_code == 302
    project = Project.objects.get(name="fresh")
    assert project.public and project.owner == alice
    assert AuditLog.objects.filter(resource="fresh", operation="create").exists()


def test_create_project_respects_the_creation_policy(make_user, browser, settings):
    from harbor_py.core import configuration

    configuration.store({"project_creation_restriction": "adminonly"})
    try:
        alice = make_user("alice")
        assert browser(alice).get("/projects/new").status_code == 403
        assert "New project" not in browser(alice).get("/projects/").content.decode()
    finally:
        configuration.store({"project_creation_restriction": "everyone"})


def test_members_add_change_remove(make_user, make_project, make_group, browser):
    owner, bob = make_user("owner"), make_user("bob")
    group = make_group("devs")
    make_project("team", owner=owner)
    client = browser(owner)
    missing = client.post("/projects/team/members", {"kind": "user", "name": "nobody", "role": 2})
    assert missing.status_code == 400
    assert "There is no user of this name." in missing.content.decode()
    assert client.post("/projects/team/members", {"kind": "user", "name": "bob", "role": 2})[
        "Location"
    ].endswith("/projects/team/members")
    client.post("/projects/team/members", {"kind": "group", "name": "devs", "role": 3})
    member = ProjectMember.objects.get(project__name="team", user=bob)
    assert member.role == Role.DEVELOPER
    assert ProjectMember.objects.filter(project__name="team", group=group, role=3).exists()
    client.post(f"/projects/team/members/{member.pk}/role", {"role": Role.MAINTAINER})
    member.refresh_from_db()
    assert member.role == Role.MAINTAINER
    confirm = client.get(f"/projects/team/members/{member.pk}/delete")
    assert "Remove member bob" in confirm.content.decode()
    assert ProjectMember.objects.filter(pk=member.pk).exists()  # nothing without the POST
    client.post(f"/projects/team/members/{member.pk}/delete")
    assert not ProjectMember.objects.filter(pk=member.pk).exists()


def test_labels_create_and_delete(make_user, make_project, browser):
    owner = make_user("owner")
    make_project("team", owner=owner)
    client = browser(owner)
    empty = client.post("/projects/team/labels", {"name": ""})
    assert "This field is required." in empty.content.decode()
    client.post("/projects/team/labels", {"name": "prod", "color": "#ff0000"})
    label = Label.objects.get(project__name="team", name="prod")
    client.post(f"/projects/team/labels/{label.pk}/delete")
    assert not Label.objects.filter(pk=label.pk).exists()


def test_logs_filter(make_user, make_project, browser):
    owner = make_user("owner")
    project = make_project("team", owner=owner)
    image(project, "app", "v1")
    client = browser(owner)
    client.post("/projects/team/labels", {"name": "prod"})
    body = client.get("/projects/team/logs?resource_type=label").content.decode()
    assert "prod" in body and "team/app" not in body


def test_configuration_and_delete(make_user, make_project, browser):
    owner = make_user("owner")
    project = make_project("team", owner=owner)
    client = browser(owner)
    client.post("/projects/team/configuration", {"public": "on", "severity": "high"})
    project.refresh_from_db()
    assert project.public and project.metadata["severity"] == "high"
    image(project, "app", "v1")
    refused = client.post("/projects/team/delete", follow=True)
    assert "The project still has repositories" in refused.content.decode()
    assert Project.objects.filter(pk=project.pk).exists()


def test_language_follows_the_browser_and_the_switcher(make_user, browser):
    client = browser(make_user("alice"))
    english = client.get("/projects/", HTTP_ACCEPT_LANGUAGE="en")
    assert "Projects" in english.content.decode()
    chinese = client.get("/projects/", HTTP_ACCEPT_LANGUAGE="zh-CN,zh;q=0.9")
    assert '<html lang="zh-hans">' in chinese.content.decode()
    assert "项目" in chinese.content.decode()
    # The UI's own catalogue wins over those of installed apps (LOCALE_PATHS).
    assert '<th scope="col">名称</th>' in chinese.content.decode()
    client.post("/i18n/setlang/", {"language": "en", "next": "/projects/"})
    switched = client.get("/projects/", HTTP_ACCEPT_LANGUAGE="zh-CN")
    assert '<html lang="en">' in switched.content.decode()


def test_api_is_not_translated(make_user, client_for):
    response = client_for(make_user("alice")).get(
        "/api/v2.0/projects/nothere", HTTP_ACCEPT_LANGUAGE="zh-CN"
    )
    assert response.status_code == 404
    assert "Content-Language" not in response
