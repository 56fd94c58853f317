"""harbor_py.core.actor.Actor: what each surface builds from its request (no database)."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory

from accounts.models import Robot
from accounts.robots import RobotUser
from harbor_py.core.actor import Actor


def test_of_request_names_the_caller_and_its_address():
    request = RequestFactory().get("/", HTTP_X_REAL_IP="192.0.2.7")
    request.user = RobotUser(Robot(pk=41, name="robot$ci"))
    assert Actor.of_request(request) == Actor(
        username="robot$ci", user_id=None, client_address="192.0.2.7", robot_id=41
    )
    request.user = AnonymousUser()
    anonymous = Actor.of_request(request)
    assert (anonymous.username, anonymous.user_id, anonymous.robot_id) == ("", None, None)
    assert not anonymous.is_system and Actor.system("harbor-gc").is_system
