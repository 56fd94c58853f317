"""#28: the services' refusals reach the page in the UI's translated words, from one
catalogue keyed by code; unknown ones in a translated sentence with the service's words."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from frontend.refusals import CATALOGUE, Coded, worded
from harbor_py.core.errors import Code, bad_request, conflict, not_found


def test_a_code_of_the_catalogue_is_worded_from_it():
    refusal = worded(Coded("project.name_taken", Code.CONFLICT, name="team"))
    assert refusal.text == "A project named team already exists."
    assert refusal.field == "project_name"


def test_a_service_refusal_is_worded_by_its_key_not_its_english_sentence():
    refusal = worded(bad_request("anything at all", key="cron.required"))
    assert refusal.text == "A scheduled trigger needs a cron expression."
    assert refusal.field == "cron"
    # the sentence alone no longer names words: no key, no catalogue entry
    sentence = worded(bad_request("a scheduled trigger needs trigger_settings.cron"))
    assert sentence.text.startswith("This was refused:")
    config = worded(
        bad_request(
            "token_expiration must be between 1 and 525600 minutes",
            key="config.out_of_range",
            params={"field": "token_expiration", "low": 1, "high": 525600},
        )
    )
    assert config.text == "Enter a number from 1 to 525600." and config.field == "token_expiration"


def test_a_not_found_without_a_key_is_worded_by_its_code():
    assert worded(not_found("webhook policy 7 not found")).text == (
        "It does not exist: it may have been deleted meanwhile."
    )


def test_an_unknown_refusal_is_a_translated_sentence_with_the_detail():
    assert worded(conflict("the moon is full")).text == "This was refused: The moon is full."
    with translation.override("zh-hans"):
        assert worded(conflict("the moon is full")).text == "操作被拒绝\uff1aThe moon is full."


def test_known_refusals_are_translated_and_name_no_api_field():
    with translation.override("zh-hans"):
        text = worded(bad_request("ignored", key="cron.required")).text
        assert text == "定时触发需要填写 cron 表达式。"
        assert worded(Coded("label.color_invalid")).text.startswith("颜色")


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_entry_is_a_sentence_without_api_field_names(code):
    text = str(CATALOGUE[code].text)
    assert (text[0].isupper() or text.startswith("%(")) and text.endswith(".")
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|\w\.\w+_", text)  # trigger_settings.cron


def test_a_gc_record_is_worded_by_its_event_and_a_refusals_key():
    """#28: the GC log's lines on the page come from structured records, not the English."""
    from frontend import job_log

    log = "t1 whatever\nt2 anything\n"
    records = (
        '{"time": "t1", "event": "gc.dry_run", "params": {"blobs": 2, "manifests": 1,'
        ' "bytes": 2048}}\n'
        '{"time": "t2", "event": "gc.kept", "params": {"artifact": "a/b@sha256:1",'
        ' "why": "english", "why_key": "tag.exists", "why_params": {"tag": "v1",'
        ' "repository": "a/b"}}}\n'
    )
    assert job_log.translated(log, records) == (
        "t1 Dry run: 2 blobs and 1 manifests could be deleted, which would free 2\xa0KiB\n"
        "t2 Kept a/b@sha256:1: The tag v1 already exists in a/b.\n"
    )
    assert job_log.translated(log, "") == log  # logged before records: as it is
