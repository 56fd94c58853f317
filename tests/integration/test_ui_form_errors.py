"""#28: a form shows every field's refusal at once, each next to its field, instead of
the service's first refusal at the top."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User

pytestmark = pytest.mark.django_db


def signed(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def field_errors(html: str) -> dict[str, str]:
    """Each error list of the form by the field it stands over ({{ form }} puts a field's
    errors just before its input), "__all__" for the form's own errors at the top."""
    errors = {}
    for found in re.finditer(r'<ul class="errorlist( nonfield)?"[^>]*>(.*?)</ul>', html, re.S):
        field = re.compile(r'id="id_([a-z_]+?)(?:_\d+)*"').search(html, found.end())
        name = "__all__" if found[1] or field is None else field[1]
        errors[name] = re.sub(r"<[^>]+>", "", found[2]).strip()
    return errors


def test_user_form_shows_every_refusal_next_to_its_field(admin, make_user):
    make_user("taken")  # taken@example.com
    response = signed(admin).post(
        "/admin/users",
        {"username": "bad name", "email": "taken@example.com", "password": "weak"},
    )
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert "Username is required, at most 255" in errors["username"]
    assert "is already used" in errors["email"]
    assert "password must be 8-128" in errors["password"].lower()
    assert "__all__" not in errors
    assert not User.objects.filter(username="bad name").exists()


def test_robot_form_shows_name_and_permissions_at_once(admin, make_project):
    make_project("team", owner=admin)
    response = signed(admin).post("/projects/team/robots", {"name": "Bad Name"})
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert "A robot name is lower-case" in errors["name"]
    assert "Choose at least one permission" in errors["permissions"]
