"""Harbor's password rule: 8-128 characters with an upper-case, a lower-case letter and a digit."""

from __future__ import annotations

import re

_RULE = re.compile(r"^(?=.*[a-z])(?=.*[A-Z])(?=.*\d).{8,128}$")


def password_problem(password: str) -> str | None:
    if not _RULE.match(password or ""):
        return (
            "password must be 8-128 characters long with at least one uppercase letter, "
            "one lowercase letter and one number"
        )
    return None
