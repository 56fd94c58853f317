"""Version comparison by each ecosystem's own rules, through maintained libraries:
python-debian for dpkg (Debian, Ubuntu: epochs, tildes), packaging for PyPI (PEP 440:
pre-releases, post-releases, local versions), univers for the rest (Alpine's apk rules with
-rN revisions, npm and Go semver, RPM's rpmvercmp). Nothing here compares strings itself.

`parse(ecosystem, text)` answers a comparable object or None for a version the ecosystem
cannot read (never matched, never an error).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any

from debian.debian_support import Version as DebianVersion
from packaging.version import InvalidVersion
from packaging.version import Version as PypiVersion
from univers.versions import AlpineLinuxVersion, RpmVersion, SemverVersion


def _debian(text: str) -> Any:
    return DebianVersion(text)


def _pypi(text: str) -> Any:
    return PypiVersion(text)


def _alpine(text: str) -> Any:
    return AlpineLinuxVersion(text)


def _semver(text: str) -> Any:
    return SemverVersion(text.removeprefix("v"))


def _rpm(text: str) -> Any:
    return RpmVersion(text)


PARSERS: dict[str, Callable[[str], Any]] = {
    "Debian": _debian,
    "Ubuntu": _debian,
    "PyPI": _pypi,
    "Alpine": _alpine,
    "npm": _semver,
    "Go": _semver,
    "Red Hat": _rpm,
    "AlmaLinux": _rpm,
    "Rocky Linux": _rpm,
    "openSUSE": _rpm,
    "SUSE": _rpm,
}


class _Lowest:
    """OSV's `introduced: "0"`: below every version of every ecosystem."""

    def __lt__(self, other: object) -> bool:
        return not isinstance(other, _Lowest)

    def __le__(self, other: object) -> bool:
        return True

    def __gt__(self, other: object) -> bool:
        return False

    def __ge__(self, other: object) -> bool:
        return isinstance(other, _Lowest)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Lowest)

    def __hash__(self) -> int:
        return 0


LOWEST = _Lowest()


def supported(ecosystem: str) -> bool:
    return ecosystem in PARSERS


@lru_cache(maxsize=200_000)
def parse(ecosystem: str, text: str) -> Any:
    parser = PARSERS.get(ecosystem)
    if parser is None or not text:
        return None
    try:
        return parser(text)
    except (InvalidVersion, ValueError, TypeError, AttributeError):
        return None


def parse_event(ecosystem: str, text: str) -> Any:
    """A range event's version: "0" as an `introduced` value means from the start."""
    if text == "0":
        return LOWEST
    return parse(ecosystem, text)
