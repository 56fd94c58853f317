"""registry.uploads: distribution's signed upload state, read and written as distribution
2.8 does (the fresh Locations the gate gives must be accepted by distribution; the e2e
tests in tests/e2e/test_chunked_uploads.py resume uploads at them)."""

from __future__ import annotations

import pytest

from registry.uploads import UploadState, pack_state, unpack_state

# A `_state` that distribution 2.8 wrote, with the http.secret of the instance that wrote it.
SECRET = b"acsI4tgcegrvOAQ1hyXaEi2AAcUuUoR_l_WocR8tt0uL5e9d6JJIImp_vL7YHTMM9Sc"
TOKEN = (
    "GbdgoJJPK7HWJOOx8PEPecWVvFTJebVjUiK6V9vdrix7Ik5hbWUiOiJjb25mL2FwcCIsIlVVSUQiOiIxNmFhZDE5"
    "YS1kMmMxLTQ4MzgtYjQ3Ni1mYmZhMTAxOTc5Y2IiLCJPZmZzZXQiOjE1MDAsIlN0YXJ0ZWRBdCI6IjIwMjYtMTIt"
    "MDdUMDk6MDQ6NDFaIn0="
)
STATE = UploadState(
    "conf/app", "16aad19a-d2c1-4838-b476-fbfa101979cb", 1500, "2026-12-07T09:04:41Z"
)


def test_reads_the_state_distribution_wrote() -> None:
    assert unpack_state(TOKEN, SECRET) == STATE


def test_what_it_writes_reads_back() -> None:
    moved = UploadState(STATE.name, STATE.uuid, 4096, STATE.started_at)
    assert unpack_state(pack_state(moved, SECRET), SECRET) == moved


@pytest.mark.parametrize(
    "token",
    [
        TOKEN[:-8] + "AAAAAAA=",  # the signed message changed
        "A" + TOKEN[1:],  # the MAC changed
        "not base64 at all!",
        "",
        pack_state(STATE, b"another secret"),
    ],
)
def test_tampered_or_foreign_states_are_not_read(token: str) -> None:
    assert unpack_state(token, SECRET) is None
