"""projects.services.create_project holds the creation rules that the API and the UI used to
write each on their own: project_creation_restriction, and only a sysadmin chooses the
storage limit."""

from __future__ import annotations

import pytest

from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from projects import services
from projects.models import Project
from quotas.models import Quota
from quotas.usage import default_hard

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_only():
    configuration.store({"project_creation_restriction": "adminonly"})
    yield
    configuration.store({"project_creation_restriction": "everyone"})


def test_only_sysadmins_create_projects_when_restricted(admin_only, make_user):
    # Not the exception's class: DomainError becomes a domain error (issue #21 item 4).
    alice, root = make_user("alice"), make_user("root", sysadmin=True)
    with pytest.raises(Exception, match="only system administrators may create projects"):
        services.create_project(owner=alice, name="mine", actor=Actor.of_user(alice))
    assert not Project.objects.filter(name="mine").exists()
    services.create_project(owner=root, name="mine", actor=Actor.of_user(root))
    assert Project.objects.filter(name="mine").exists()


def test_only_a_sysadmin_chooses_the_storage_limit(make_user):
    alice, root = make_user("alice"), make_user("root", sysadmin=True)
    services.create_project(
        owner=alice, name="hers", storage_limit=1000, actor=Actor.of_user(alice)
    )
    services.create_project(owner=root, name="his", storage_limit=1000, actor=Actor.of_user(root))
    assert Quota.objects.get(project__name="hers").hard == default_hard()
    assert Quota.objects.get(project__name="his").hard == 1000
