"""The process environment. Every read of it goes through this module, so the variables
harbor-py reads are found with one search (`env.` in the tree); settings.py reads most of
them once, at start. tests/unit/test_environment_reads.py fails when another module reads
os.environ itself."""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import overload


@overload
def get(name: str) -> str | None: ...


@overload
def get(name: str, default: str) -> str: ...


def get(name: str, default: str | None = None) -> str | None:
    return os.environ.get(name, default)


def require(name: str) -> str:
    """The variable's value; KeyError when it is not set."""
    return os.environ[name]


def variables() -> Mapping[str, str]:
    """The whole environment (what the platform passes on to the processes it starts)."""
    return os.environ


def set_default(name: str, value: str) -> None:
    os.environ.setdefault(name, value)


def override(name: str, value: str) -> None:
    """Set a variable for this process and the ones it starts (the test settings give each
    pytest-xdist worker a data directory of its own)."""
    os.environ[name] = value
