"""#28: every catalogue key a service raises is in the UI's catalogue, with the
parameters its sentence needs; the services that the UI used to recognise by their English
sentences raise coded refusals now; a refusal of the real service functions is worded
from the catalogue, not shown raw."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from accounts import passwords
from frontend.refusals import CATALOGUE, worded
from harbor_py.core import configuration
from harbor_py.core.errors import DomainError
from immutable import services as immutable_services
from projects import services as project_services

ROOT = Path(__file__).resolve().parents[2]
APPS = [
    "accounts",
    "audit",
    "harbor_gc",
    "harbor_py",
    "immutable",
    "jobs",
    "projects",
    "proxy_cache",
    "quotas",
    "registry",
    "replication",
    "retention",
    "scanner",
    "scanning",
    "signatures",
    "webhooks",
    "frontend",
]
# the callables whose `key` (a keyword, or the position given) names the catalogue's words
RAISERS = {
    "DomainError": None,
    "bad_request": None,
    "conflict": None,
    "not_found": None,
    "forbidden": None,
    "precondition": None,
    "LoginRefused": None,
    "DirectoryUnavailable": None,
    "SignInRefused": None,
    "Problem": 1,
    "Coded": 0,
}
KEY = re.compile(r"^[a-z_]+(?:\.[a-z_]+)+$")
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


@dataclass(frozen=True)
class Raised:
    where: str
    keys: frozenset[str]
    params: frozenset[str] | None  # None: not a literal, not checked


def _strings(node: ast.AST) -> set[str]:
    return {
        n.value
        for n in ast.walk(node)
        if isinstance(n, ast.Constant) and isinstance(n.value, str) and KEY.match(n.value)
    }


def _names(node: ast.AST) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}


def _defaults(function: ast.FunctionDef) -> dict[str, ast.expr]:
    """A function's parameters with a default, and the default."""
    args = function.args
    positional = args.posonlyargs + args.args
    pairs = list(
        zip(positional[len(positional) - len(args.defaults) :], args.defaults, strict=True)
    )
    pairs += [
        (a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None
    ]
    return {arg.arg: default for arg, default in pairs}


def _params(name: str, call: ast.Call) -> frozenset[str] | None:
    """The parameters the call gives its sentence; None when they are not literal."""
    if name in ("Problem", "Coded"):
        return frozenset(k.arg for k in call.keywords if k.arg)
    node = next((k.value for k in call.keywords if k.arg == "params"), None)
    if node is None:
        return frozenset()
    if isinstance(node, ast.Dict) and all(isinstance(k, ast.Constant) for k in node.keys):
        return frozenset(k.value for k in node.keys)  # type: ignore[union-attr]  # all() saw Constants
    return None


def _raised(path: Path) -> list[Raised]:
    tree = ast.parse(path.read_text(), str(path))
    defined: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.ClassDef):
            defined[node.name] = node
        elif isinstance(node, ast.Assign):
            defined.update({t.id: node for t in node.targets if isinstance(t, ast.Name)})
    found = []

    def callers(function: str) -> ast.AST:
        """The module's calls of `function` (a key given by its callers)."""
        calls = [
            n
            for n in ast.walk(tree)
            if isinstance(n, ast.Call) and isinstance(n.func, ast.Name) and n.func.id == function
        ]
        return ast.Module(body=[ast.Expr(c) for c in calls], type_ignores=[])

    def visit(node: ast.AST, scope: dict[str, ast.AST]) -> None:
        if isinstance(node, ast.FunctionDef):
            given = {a.arg: callers(node.name) for a in node.args.args + node.args.kwonlyargs}
            scope = scope | given | _defaults(node)
        for child in ast.iter_child_nodes(node):
            visit(child, scope)
        if not isinstance(node, ast.Call):
            return
        func = node.func
        name = func.id if isinstance(func, ast.Name) else getattr(func, "attr", None)
        if name not in RAISERS:
            return
        position = RAISERS[name]
        key = next((k.value for k in node.keywords if k.arg == "key"), None)
        if key is None and position is not None and len(node.args) > position:
            key = node.args[position]
        if isinstance(key, ast.Name) and key.id in scope:  # a parameter: its default or
            key = scope[key.id]  # what the callers give
        if key is None or (isinstance(key, ast.Constant) and key.value is None):
            return  # no words of the UI's own
        if any(isinstance(n, ast.Attribute) and n.attr == "key" for n in ast.walk(key)):
            return  # passed on from a Problem, read where that is made
        keys = _strings(key)
        for referred in _names(key) & set(defined):  # a module-level helper or table
            keys |= _strings(defined[referred])
        where = f"{path.relative_to(ROOT)}:{node.lineno}"
        found.append(Raised(where, frozenset(keys), _params(name, node)))

    visit(tree, {})
    return found


RAISED = [
    raised
    for app in APPS
    for path in sorted((ROOT / app).rglob("*.py"))
    if "migrations" not in path.parts and "node_modules" not in path.parts
    for raised in _raised(path)
]


def test_the_walk_finds_the_services_coded_refusals():
    keys = {key for raised in RAISED for key in raised.keys}
    # one of each kind of raise: a helper, DomainError, a login refusal, a settings
    # Problem, a table-driven key and a UI check
    for key in (
        "project.name_taken",
        "role.forbidden",
        "login.deactivated",
        "config.out_of_range",
        "immutable.tag_pattern",
        "label.color_invalid",
    ):
        assert key in keys
    assert len(RAISED) > 60


@pytest.mark.parametrize("raised", RAISED, ids=[r.where for r in RAISED])
def test_every_key_a_service_raises_is_in_the_catalogue_with_its_parameters(raised):
    assert raised.keys, f"{raised.where}: a key the walk cannot read"
    for key in raised.keys:
        assert key in CATALOGUE, f"{raised.where}: {key} is not in frontend.refusals.CATALOGUE"
        needed = set(PLACEHOLDER.findall(str(CATALOGUE[key].text)))
        if raised.params is not None:
            missing = needed - raised.params
            assert not missing, f"{raised.where}: {key} needs the parameters {missing}"


def test_every_catalogue_entry_is_raised_somewhere():
    keys = {key for raised in RAISED for key in raised.keys} | {"not_found"}  # by code
    assert not set(CATALOGUE) - keys


def test_the_english_sentences_are_no_longer_matched():
    import frontend.refusals

    assert not hasattr(frontend.refusals, "MESSAGES")


# --- the real services' refusals (no database needed for these checks) -------------------


def _refusal(call) -> DomainError:
    with pytest.raises(DomainError) as caught:
        call()
    return caught.value


def test_a_refused_project_name_is_worded_from_the_catalogue():
    refusal = worded(_refusal(lambda: project_services.validate_project_name("Bad Name")))
    assert refusal.text.startswith("A project name is 1-255")
    assert refusal.field == "project_name"


def test_a_refused_selector_is_worded_with_its_reason():
    bad = {"kind": "doublestar", "decoration": "matches", "pattern": "{unclosed"}
    exc = _refusal(lambda: immutable_services.clean_selectors([bad], {"repository": [bad]}))
    assert exc.message.startswith("tag_selectors")  # the API's words unchanged
    refusal = worded(exc)
    assert refusal.text.startswith("Not a valid tag pattern (") and refusal.field == "tag_pattern"


def test_a_setting_out_of_range_is_worded_for_its_field():
    check = configuration.between(1, 10, "days")
    item = configuration.Item(int, 1, False, True, None, check)
    with pytest.raises(DomainError) as caught:
        configuration._coerce("robot_token_duration", item, 99)
    exc = caught.value
    assert exc.message == "robot_token_duration must be between 1 and 10 days"
    refusal = worded(exc)
    assert refusal.text == "Enter a number from 1 to 10."
    assert refusal.field == "robot_token_duration"


def test_a_weak_password_is_worded_from_the_catalogue():
    from accounts import services as account_services

    assert passwords.password_problem("short")
    refusal = worded(_refusal(lambda: account_services.validate_password("short")))
    assert refusal.text.startswith("A password needs 8-128 characters")


def test_a_refused_trusted_key_is_worded_in_both_languages():
    from django.utils import translation

    from signatures import keys

    exc = _refusal(lambda: keys.parse("not a key"))
    assert exc.message.startswith("public_key is not a PEM public key")  # the API's words
    assert worded(exc).text == "This is not a PEM public key or X.509 certificate."
    assert worded(exc).field == "public_key"
    with translation.override("zh-hans"):
        assert worded(exc).text == "这不是 PEM 公钥或 X.509 证书。"


def test_an_oidc_sign_in_refusal_is_worded_from_the_catalogue():
    from accounts.oidc_auth import SignInRefused

    refused = SignInRefused(
        "the OIDC provider refused the sign-in: x",
        key="oidc.provider_refused",
        params={"why": "access_denied"},
    )
    assert str(refused) == "the OIDC provider refused the sign-in: x"
    assert worded(refused).text == "The OIDC provider refused the sign-in (access_denied)."


# The refusals a page can meet that were still shown as "This was refused: <English>" (#28):
# the scanning API views' own checks and the scan's adapter failure, the CLI secret's
# checks, a username the user form's check refuses, a label attached twice, a stop of a
# finished run, a group that a concurrent create took. NOT_FOUND is worded by its code.
KEYED_NOW = {
    "scanning/api/views.py": None,  # the whole module
    "scanning/exports.py": "check_criteria",
    "scanning/scans.py": "start_scan",
    "accounts/oidc_services.py": "set_cli_secret",
    "accounts/api/oidc_views.py": "CliSecretView",
    "accounts/services.py": "validate_username",
    "accounts/group_services.py": "create_group",
    "registry/services.py": "add_label",
    "jobs/services.py": "request_stop",
}


def _unkeyed(path: str, scope: str | None) -> list[str]:
    tree = ast.parse((ROOT / path).read_text())
    roots = [
        node
        for node in ast.walk(tree)
        if scope is None
        or (isinstance(node, ast.FunctionDef | ast.ClassDef) and node.name == scope)
    ]
    assert roots, f"{path}: no {scope}"
    found = set()
    for root in [tree] if scope is None else roots:
        for node in ast.walk(root):
            if not isinstance(node, ast.Call):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else None
            keyed = any(k.arg == "key" for k in node.keywords)
            if name in RAISERS and RAISERS[name] is None and name != "not_found" and not keyed:
                found.add(f"{path}:{node.lineno}")
    return sorted(found)


@pytest.mark.parametrize("path", sorted(KEYED_NOW))
def test_the_refusals_a_page_can_meet_carry_a_key(path):
    assert not _unkeyed(path, KEYED_NOW[path])


def test_a_refused_username_is_worded_in_both_languages():
    from django.utils import translation

    from accounts import services as account_services

    exc = _refusal(lambda: account_services.validate_username("bad name"))
    assert exc.message.startswith("username is required")  # the API's words
    assert worded(exc).text.startswith("A username has 1-255 characters, without spaces")
    assert worded(exc).field == "username"
    with translation.override("zh-hans"):
        assert worded(exc).text.startswith("用户名为 1-255 个字符")
