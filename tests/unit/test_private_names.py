"""No module of the project uses another module's private (`_name`) names: what a module
shares is public, so that a reader sees its contract (issue #21). import-linter checks
which modules import which; this checks the names."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
APPS = {
    "accounts": "accounts",
    "audit": "audit",
    "frontend": "frontend",
    "gc": "harbor_gc",
    "harbor_py": "harbor_py",
    "immutable": "immutable",
    "jobs": "jobs",
    "projects": "projects",
    "quotas": "quotas",
    "registry": "registry",
    "replication": "replication",
    "retention": "retention",
}


# Django's public model API is spelled `_meta`.
FRAMEWORK_NAMES = {"_meta"}
# Replication's registry client becomes a public adapter in issue #21 item 6 (another
# branch); remove this line when it does.
OWNED_ELSEWHERE: set[str] = set()


def _private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__") and name not in FRAMEWORK_NAMES


def _first_party(module: str) -> bool:
    return module.split(".")[0] in APPS.values()


def private_uses(source: str) -> list[str]:
    """`from pkg.mod import _x` and `mod._x` where `mod` is an imported project module."""
    found = []
    modules: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.module and _first_party(node.module):
            for alias in node.names:
                if _private(alias.name) and f"{node.module}.{alias.name}" not in OWNED_ELSEWHERE:
                    found.append(f"{node.module}.{alias.name} (line {node.lineno})")
                else:
                    modules.add(alias.asname or alias.name)
        elif isinstance(node, ast.Import):
            modules.update(a.asname or a.name for a in node.names if _first_party(a.name))
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in modules
            and _private(node.attr)
        ):
            found.append(f"{node.value.id}.{node.attr} (line {node.lineno})")
    return found


def test_the_check_sees_both_forms():
    assert private_uses("from registry.pulls import _key, EVENTS\n") == [
        "registry.pulls._key (line 1)"
    ]
    assert private_uses("from jobs import services\nservices._beat(1)\n") == [
        "services._beat (line 2)"
    ]
    assert private_uses("from os import _exit\nimport registry.push\nx = y._z\n") == []


def test_no_module_uses_another_modules_private_names():
    offenders = {}
    for folder in APPS:
        for path in sorted((ROOT / folder).rglob("*.py")):
            if "migrations" in path.parts:
                continue
            uses = private_uses(path.read_text())
            if uses:
                offenders[str(path.relative_to(ROOT))] = uses
    assert offenders == {}
