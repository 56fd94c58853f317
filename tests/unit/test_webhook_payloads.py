"""Webhook payloads in Harbor's three formats, the signature and the address checks
(webhooks.payloads, webhooks.sender): Python only."""

from __future__ import annotations

import hashlib
import hmac
import json

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from webhooks import payloads, sender
from webhooks.payloads import Notification

NOTE = Notification(
    event_id="e1",
    event_type=payloads.DELETE_ARTIFACT,
    project="lib",
    occur_at=1_700_000_000,
    operator="alice",
    event_data={"resources": [{"digest": "sha256:" + "a" * 64, "tag": "v1"}]},
)


def render(notify_type: str, payload_format: str) -> tuple[bytes, str]:
    return payloads.render(
        NOTE,
        notify_type=notify_type,
        payload_format=payload_format,
        project_id=3,
        policy_id=7,
        sequence=42,
    )


def test_default_is_harbors_json():
    body, content_type = render("http", "Default")
    assert content_type == "application/json"
    assert json.loads(body) == {
        "type": "DELETE_ARTIFACT",
        "occur_at": 1_700_000_000,
        "operator": "alice",
        "event_data": NOTE.event_data,
    }


def test_cloudevents_structured_reads_back_with_the_sdk():
    body, content_type = render("http", "CloudEvents")
    assert content_type.startswith("application/cloudevents+json")
    event = from_http_event(HTTPMessage(headers={"content-type": content_type}, body=body))
    assert event.get_type() == "harbor.artifact.deleted"
    assert (event.get_id(), event.get_source()) == ("e1", "/projects/3/webhook/policies/7")
    assert event.get_extension("sequence") == "42"
    assert event.get_data() == NOTE.event_data
    assert event.get_time().isoformat().startswith("2023-11-14T22:13:20")


def test_every_event_type_has_harbors_cloudevents_name():
    assert set(payloads.CLOUDEVENT_TYPES) == set(payloads.EVENT_TYPES)
    assert payloads.CLOUDEVENT_TYPES["PUSH_ARTIFACT"] == "harbor.artifact.pushed"


def test_slack_is_a_block_kit_message():
    body, _ = render("slack", "Default")
    blocks = json.loads(body)["blocks"]
    assert "DELETE_ARTIFACT" in blocks[1]["text"]["text"]


def test_signature_is_the_hmac_of_the_body():
    value = sender.signature("k", b"{}")
    assert value == "sha256=" + hmac.new(b"k", b"{}", hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("address", "private"),
    [
        ("127.0.0.1", True),
        ("10.0.0.1", True),
        ("192.168.1.1", True),
        ("169.254.169.254", True),
        ("::1", True),
        ("::ffff:127.0.0.1", True),
        ("fd00::1", True),
        ("8.8.8.8", False),
        ("2001:4860:4860::8888", False),
    ],
)
def test_private_addresses(address, private):
    assert sender._private(address) is private


def test_only_http_urls_are_targets(settings):
    settings.WEBHOOK_REFUSE_PRIVATE_TARGETS = False
    for url in ("ftp://x.test/", "file:///etc/passwd", "http://"):
        with pytest.raises(sender.Refused):
            sender.check_address(url)
    sender.check_address("https://hooks.example.com/x")


def test_a_pinned_request_keeps_the_name_in_host_and_sni():
    assert sender.pinned_request("https://u:p@hooks.example.com:8443/x?a=1", "93.184.216.34") == (
        "https://u:p@93.184.216.34:8443/x?a=1",
        {"Host": "hooks.example.com:8443"},
        {"sni_hostname": "hooks.example.com"},
    )
    assert sender.pinned_request("http://hooks.example.com/x", "2001:db8::1") == (
        "http://[2001:db8::1]/x",
        {"Host": "hooks.example.com"},
        {},
    )
    assert sender.pinned_request("http://hooks.example.com/x", None) == (
        "http://hooks.example.com/x",
        {},
        {},
    )
