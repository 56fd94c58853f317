"""#28: a form shows every field's refusal at once, each next to its field, instead of
the service's first refusal at the top."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User
from harbor_py.core import configuration
from jobs.models import Schedule
from replication.models import RegistryEndpoint, ReplicationPolicy
from tests.integration.test_ui_admin import _config_form
from webhooks.models import WebhookPolicy

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
    assert errors["username"] == (
        "A username has 1-255 characters, without spaces, commas, double quotes, percent signs "
        "or any of ~ # $ : / \\."
    )
    assert "is already used" in errors["email"]
    assert errors["password"] == (
        "A password needs 8-128 characters: an upper-case letter, a lower-case one, a digit."
    )
    assert "__all__" not in errors
    assert not User.objects.filter(username="bad name").exists()


def test_robot_form_shows_name_and_permissions_at_once(admin, make_project):
    make_project("team", owner=admin)
    response = signed(admin).post("/projects/team/robots", {"name": "Bad Name"})
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert "A robot name is lower-case" in errors["name"]
    assert "Choose at least one permission" in errors["permissions"]


def test_project_form_shows_name_and_limit_at_once(admin, make_project):
    make_project("taken", owner=admin)
    client = signed(admin)
    form = {"storage_limit_0": "99999999", "storage_limit_1": "TiB"}  # past PostgreSQL's bigint
    response = client.post("/projects/new", {**form, "project_name": "taken"})
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert errors["project_name"] == "A project named taken already exists."
    assert errors["storage_limit"] == "A storage limit is a size or unlimited."
    assert "__all__" not in errors
    bad_name = field_errors(
        client.post("/projects/new", {**form, "project_name": "Bad Name"}).content.decode()
    )
    assert "A project name is 1-255 lower-case letters" in bad_name["project_name"]


def test_registry_form_shows_taken_name_with_a_bad_url(admin):
    RegistryEndpoint.objects.create(name="hub", type="harbor", url="http://127.0.0.1:1")
    other = RegistryEndpoint.objects.create(name="far", type="harbor", url="http://127.0.0.1:2")
    client = signed(admin)
    response = client.post("/admin/registries", {"name": "hub", "type": "harbor", "url": "::"})
    errors = field_errors(response.content.decode())
    assert response.status_code == 400
    assert errors["name"] == "The name hub is taken."
    assert "url" in errors and "__all__" not in errors
    # Editing keeps its own name free, not another's.
    edit = {"name": "far", "type": "harbor", "url": "http://127.0.0.1:3"}
    assert client.post(f"/admin/registries/{other.pk}/edit", edit).status_code == 302
    taken = client.post(f"/admin/registries/{other.pk}/edit", {**edit, "name": "hub"})
    assert field_errors(taken.content.decode())["name"] == "The name hub is taken."


def test_replication_rule_form_shows_taken_name_and_cron_at_once(admin):
    endpoint = RegistryEndpoint.objects.create(name="far", type="harbor", url="http://127.0.0.1:1")
    client = signed(admin)
    rule = {"name": "copy", "direction": "push", "registry": endpoint.pk, "trigger_type": "manual"}
    client.post("/admin/replications", rule)
    assert ReplicationPolicy.objects.filter(name="copy").exists()
    missing = client.post("/admin/replications", {**rule, "trigger_type": "scheduled"})
    errors = field_errors(missing.content.decode())
    assert errors["name"] == "The name copy is taken."
    assert errors["cron"] == "A scheduled trigger needs a cron expression."
    invalid = client.post(
        "/admin/replications", {**rule, "trigger_type": "scheduled", "cron": "0 99 * * * *"}
    )
    assert "Not a valid cron expression" in field_errors(invalid.content.decode())["cron"]


def test_label_form_shows_taken_name_and_bad_colour_at_once(admin, make_project):
    make_project("team", owner=admin)
    client = signed(admin)
    client.post("/projects/team/labels", {"name": "hot"})
    response = client.post("/projects/team/labels", {"name": "hot", "color": "red"})
    errors = field_errors(response.content.decode())
    assert response.status_code == 400
    assert errors == {
        "name": "A label hot already exists.",
        "color": "A colour is written #RGB or #RRGGBB, e.g. #2f6fde.",
    }
    # The same name is free among the global labels.
    assert client.post("/admin/labels", {"name": "hot"}).status_code == 302


def test_immutability_rule_form_shows_both_bad_patterns(admin, make_project):
    make_project("team", owner=admin)
    rule = {
        "repository_decoration": "repoMatches",
        "repository_pattern": "app/{a",
        "tag_decoration": "matches",
        "tag_pattern": "v[1",
        "priority": "0",
    }
    response = signed(admin).post("/projects/team/immutability", rule)
    errors = field_errors(response.content.decode())
    assert response.status_code == 400
    assert errors["repository_pattern"].startswith("Not a valid repository pattern (unclosed {")
    assert errors["tag_pattern"].startswith("Not a valid tag pattern (unclosed [")


def test_gc_schedule_cron_refused_next_to_its_field(admin):
    client = signed(admin)
    missing = client.post("/admin/gc", {"schedule": "1", "type": "Custom", "cron": ""})
    assert field_errors(missing.content.decode()) == {
        "cron": "A custom schedule needs a cron expression."
    }
    bad = client.post("/admin/gc", {"schedule": "1", "type": "Custom", "cron": "1 2 3"})
    assert "Not a valid cron expression" in field_errors(bad.content.decode())["cron"]
    assert not Schedule.objects.filter(vendor_type="GARBAGE_COLLECTION", type="Custom").exists()


def test_configuration_shows_every_setting_out_of_range(admin):
    form = _config_form(token_expiration=10**7, robot_token_duration=10**6)
    response = signed(admin).post("/admin/configuration", form)
    errors = field_errors(response.content.decode())
    assert response.status_code == 400
    assert errors["token_expiration"] == "Enter a number from 1 to 525600."
    assert errors["robot_token_duration"] == "Enter a number from 1 to 36500."
    assert configuration.get("token_expiration") != 10**7


def test_webhook_form_shows_taken_name_and_refused_target_at_once(admin, make_project, settings):
    """A taken name and a private target both, each next to its field, in the UI's words
    (the service stopped at the first, in English)."""
    settings.WEBHOOK_REFUSE_PRIVATE_TARGETS = True
    project = make_project("hooks", owner=admin)
    WebhookPolicy.objects.create(project=project, name="ci", targets=[], event_types=[])
    form = {
        "name": "ci",
        "addresses": "http://127.0.0.1:9/",
        "kind": "http:Default",
        "event_types": ["PUSH_ARTIFACT"],
    }
    response = signed(admin).post("/projects/hooks/webhooks", form)
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert errors["name"] == "A webhook named ci already exists."
    assert errors["addresses"].startswith("http://127.0.0.1:9/ cannot be a target")
    assert "__all__" not in errors
    twice = {**form, "name": "other", "addresses": "http://a.example/\nhttp://a.example/"}
    errors = field_errors(signed(admin).post("/projects/hooks/webhooks", twice).content.decode())
    assert errors == {"addresses": "Each target URL once, please."}
    assert WebhookPolicy.objects.filter(project=project).count() == 1


def test_password_form_shows_wrong_current_and_weak_new_at_once(make_user):
    alice = make_user("alice")  # password of the fixture
    response = signed(alice).post(
        "/account/password",
        {"old_password": "not-it", "new_password": "weak", "confirm_password": "weak"},
    )
    errors = field_errors(response.content.decode())
    assert errors["old_password"] == "The current password is incorrect."
    assert errors["new_password"].startswith("A password needs 8-128 characters")


def test_a_duplicate_group_is_worded_next_to_its_field(admin):
    client = signed(admin)
    form = {"group_name": "devs", "group_type": 2, "ldap_group_dn": ""}
    assert client.post("/admin/groups", form).status_code == 302
    errors = field_errors(client.post("/admin/groups", form).content.decode())
    assert errors == {
        "group_name": "This group exists already (the same name, or for LDAP the same DN)."
    }


def test_group_form_shows_a_missing_name_and_a_missing_dn_at_once(admin):
    response = signed(admin).post(
        "/admin/groups", {"group_name": "", "group_type": 1, "ldap_group_dn": ""}
    )
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert errors["group_name"] == "This field is required."
    assert errors["ldap_group_dn"] == "An LDAP group needs its DN (at most 512 characters)."
    assert "__all__" not in errors


def test_member_form_shows_an_unknown_user_with_a_bad_role(admin, make_project):
    make_project("team", owner=admin)
    client = signed(admin)
    response = client.post(
        "/projects/team/members", {"kind": "user", "name": "nobody", "role": "99"}
    )
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert errors["name"] == "There is no user of this name."
    assert "Select a valid choice" in errors["role"]
    group = {"kind": "group", "name": "nobody", "role": "99"}
    errors = field_errors(client.post("/projects/team/members", group).content.decode())
    assert errors["name"] == "There is no group of this name."


def test_scanner_form_shows_a_taken_name_and_a_taken_endpoint_at_once(admin):
    from scanning.models import Scanner

    Scanner.objects.create(name="trivy", url="http://127.0.0.1:1")
    client = signed(admin)
    form = {"action": "register", "name": "trivy", "url": "http://127.0.0.1:1/", "auth": ""}
    response = client.post("/admin/scanners", form)
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert errors["name"] == "A scanner named trivy is registered already."
    assert errors["url"] == "A scanner with the endpoint http://127.0.0.1:1/ is registered already."
    assert "__all__" not in errors
    assert Scanner.objects.count() == 1


def test_retention_rule_form_shows_count_and_both_patterns_at_once(admin, make_project):
    make_project("team", owner=admin)
    rule = {
        "template": "latestPushedK",
        "count": "",
        "repository_decoration": "repoMatches",
        "repository_pattern": "app/{a",
        "tag_decoration": "matches",
        "tag_pattern": "v[1",
    }
    response = signed(admin).post("/projects/team/retention/rules", rule)
    assert response.status_code == 400
    errors = field_errors(response.content.decode())
    assert errors["count"] == "This rule needs a number."
    assert errors["repository_pattern"].startswith("Not a valid repository pattern (unclosed {")
    assert errors["tag_pattern"].startswith("Not a valid tag pattern (unclosed [")


def _pem() -> str:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    ).decode()


@pytest.mark.parametrize(
    "page", ["/admin/trusted-keys", "/projects/team/trusted-keys"], ids=["system", "project"]
)
def test_trusted_key_form_shows_name_and_key_next_to_their_fields(admin, make_project, page):
    from signatures.models import TrustedKey

    make_project("team", owner=admin)
    client = signed(admin)
    garbage = client.post(page, {"name": "", "public_key": "not a key"})
    assert garbage.status_code == 400
    errors = field_errors(garbage.content.decode())
    assert errors["name"] == "This field is required."
    assert errors["public_key"] == "This is not a PEM public key or X.509 certificate."
    pem = _pem()
    assert client.post(page, {"name": "ci", "public_key": pem}).status_code == 302
    again = field_errors(client.post(page, {"name": "", "public_key": pem}).content.decode())
    assert again["name"] == "This field is required."
    assert again["public_key"].startswith("This key is trusted already (fingerprint ")
    assert TrustedKey.objects.count() == 1
