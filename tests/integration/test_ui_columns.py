"""#28: column show/hide on the large lists, remembered per user on the server."""

from __future__ import annotations

import pytest
from django.test import Client

from frontend.models import UiPreferences
from frontend.services import set_hidden_columns
from harbor_py.core.errors import DomainError
from harbor_py.core.http import status_of

pytestmark = pytest.mark.django_db


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_hidden_columns_are_remembered_per_user(make_user, make_project):
    alice, bob = make_user("alice"), make_user("bob")
    make_project("team", owner=alice, members={bob: 3})
    client = signed(alice)
    page = client.get("/projects/").content.decode()
    assert 'action="/account/columns/projects"' in page and '<table class="">' in page
    shown = ["access", "role", "repositories"]  # quota and created unchecked
    saved = client.post("/account/columns/projects", {"shown": shown, "next": "/projects/?q=te"})
    assert saved.status_code == 302 and saved["Location"] == "/projects/?q=te"
    assert UiPreferences.objects.get(user=alice).hidden_columns == {
        "projects": ["quota", "created"]
    }
    page = signed(alice).get("/projects/").content.decode()  # another session, same user
    assert '<table class="hide-col-5 hide-col-6">' in page
    assert 'value="created" aria-label' in page and 'value="access" checked aria-label' in page
    assert '<table class="">' in signed(bob).get("/projects/").content.decode()
    client.post("/account/columns/audit", {"shown": ["user", "operation"], "next": "/"})
    audit = client.get("/projects/team/logs").content.decode()
    assert '<table class="hide-col-4 hide-col-5 hide-col-6">' in audit


def test_bad_requests(make_user):
    client = signed(make_user("alice"))
    assert client.post("/account/columns/nothing", {"shown": []}).status_code == 404
    assert client.get("/account/columns/projects").status_code == 405
    assert Client().post("/account/columns/projects", {}).status_code == 302  # sign in first
    elsewhere = client.post("/account/columns/projects", {"next": "https://evil.example/"})
    assert elsewhere["Location"] == "/"
    assert UiPreferences.objects.get().hidden_columns["projects"] == [
        "access",
        "role",
        "repositories",
        "quota",
        "created",
    ]  # nothing checked: only the name is left


def test_the_service_refuses_the_first_column_and_unknown_ones(make_user):
    alice = make_user("alice")
    for table, hidden in (("projects", ["name"]), ("projects", ["size"]), ("nothing", [])):
        with pytest.raises(DomainError) as refused:
            set_hidden_columns(user=alice, table=table, hidden=hidden)
        assert status_of(refused.value) == 400
    assert set_hidden_columns(user=alice, table="artifacts", hidden=["size", "type"]) == [
        "type",
        "size",
    ]
