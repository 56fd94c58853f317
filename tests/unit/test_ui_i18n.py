"""The web UI's catalogues: every string of the code is in them, the Simplified Chinese
one is complete, and the committed .mo files are the compiled .po files."""

from __future__ import annotations

import gettext
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

FRONTEND = Path(__file__).resolve().parents[2] / "frontend"
CATALOGUES = {lang: FRONTEND / "locale" / lang / "LC_MESSAGES" for lang in ("en", "zh_Hans")}
PLACEHOLDER = re.compile(r"%\(\w+\)s")


def _msgids(po: polib.POFile) -> set[str]:
    return {entry.msgid for entry in po if not entry.obsolete}


def test_zh_hans_is_complete_and_keeps_placeholders():
    po = polib.pofile(str(CATALOGUES["zh_Hans"] / "django.po"))
    assert len(po) > 100
    for entry in po:
        assert "fuzzy" not in entry.flags, entry.msgid
        translations = list(entry.msgstr_plural.values()) if entry.msgid_plural else [entry.msgstr]
        for text in translations:
            assert text, f"untranslated: {entry.msgid!r}"
            assert sorted(PLACEHOLDER.findall(text)) == sorted(
                set(PLACEHOLDER.findall(entry.msgid + entry.msgid_plural))
            ), entry.msgid


@pytest.mark.parametrize("lang", sorted(CATALOGUES))
def test_compiled_catalogues_match_the_sources(lang):
    po = polib.pofile(str(CATALOGUES[lang] / "django.po"))
    with open(CATALOGUES[lang] / "django.mo", "rb") as handle:
        compiled = gettext.GNUTranslations(handle)
    for entry in po:
        context = entry.msgctxt
        if entry.msgid_plural:
            expected = entry.msgstr_plural.get(0) or entry.msgid
            found = (
                compiled.npgettext(context, entry.msgid, entry.msgid_plural, 1)
                if context
                else compiled.ngettext(entry.msgid, entry.msgid_plural, 1)
            )
            assert found == expected
        else:
            found = (
                compiled.pgettext(context, entry.msgid)
                if context
                else compiled.gettext(entry.msgid)
            )
            assert found == (entry.msgstr or entry.msgid)


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs gettext (test profile)")
def test_catalogues_hold_every_string_of_the_ui(tmp_path):
    """makemessages over a copy of frontend/ finds nothing the committed catalogue lacks."""
    copy = tmp_path / "frontend"
    shutil.copytree(FRONTEND, copy, ignore=shutil.ignore_patterns("*.mo", "__pycache__"))
    manage = FRONTEND.parent / "manage.py"
    subprocess.run(
        [sys.executable, str(manage), "makemessages", "-l", "zh_Hans", "--no-location"],
        cwd=copy,
        check=True,
        capture_output=True,
    )
    fresh = polib.pofile(str(copy / "locale" / "zh_Hans" / "LC_MESSAGES" / "django.po"))
    committed = polib.pofile(str(CATALOGUES["zh_Hans"] / "django.po"))
    assert _msgids(fresh) - _msgids(committed) == set()
