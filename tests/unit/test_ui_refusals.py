"""#28: the services' refusals reach the page in the UI's translated words, from one
catalogue keyed by code; unknown ones in a translated sentence with the service's words."""

from __future__ import annotations

import re

import pytest
from django.utils import translation

from frontend.refusals import CATALOGUE, MESSAGES, Coded, worded
from harbor_py.core.errors import Code, bad_request, conflict


def test_a_code_of_the_catalogue_is_worded_from_it():
    refusal = worded(Coded("project.name_taken", Code.CONFLICT, name="team"))
    assert refusal.text == "A project named team already exists."
    assert refusal.field == "project_name"


def test_the_services_english_sentences_are_recognised_until_they_carry_codes():
    refusal = worded(bad_request("a scheduled trigger needs trigger_settings.cron"))
    assert refusal.text == "A scheduled trigger needs a cron expression."
    assert refusal.field == "cron"
    config = worded(bad_request("token_expiration must be between 1 and 525600 minutes"))
    assert config.text == "Enter a number from 1 to 525600." and config.field == "token_expiration"


def test_an_unknown_refusal_is_a_translated_sentence_with_the_detail():
    assert worded(conflict("the moon is full")).text == "This was refused: The moon is full."
    with translation.override("zh-hans"):
        assert worded(conflict("the moon is full")).text == "操作被拒绝\uff1aThe moon is full."


def test_known_refusals_are_translated_and_name_no_api_field():
    with translation.override("zh-hans"):
        text = worded(bad_request("a scheduled trigger needs trigger_settings.cron")).text
        assert text == "定时触发需要填写 cron 表达式。"
        assert worded(Coded("label.color_invalid")).text.startswith("颜色")


@pytest.mark.parametrize("pattern,code", [(p.pattern, c) for p, c in MESSAGES])
def test_every_recognised_sentence_names_a_code_of_the_catalogue(pattern, code):
    assert code in CATALOGUE


@pytest.mark.parametrize("code", sorted(CATALOGUE))
def test_every_entry_is_a_sentence_without_api_field_names(code):
    text = str(CATALOGUE[code].text)
    assert (text[0].isupper() or text.startswith("%(")) and text.endswith(".")
    assert not re.search(r"\b[a-z]+_[a-z_]+\b|\w\.\w+_", text)  # trigger_settings.cron
