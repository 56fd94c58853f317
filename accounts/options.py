"""The run-time settings of authentication, tokens, robots and LDAP
(harbor_py.core.configuration)."""

import json
import re

from accounts.ldap_settings import SettingsError, parse_urls
from harbor_py.core.configuration import between, register
from harbor_py.core.errors import Problem

MINUTES_PER_YEAR = 365 * 24 * 60
MAX_ROBOT_DAYS = 36500  # a hundred years


def _oidc_endpoint(value: str) -> str | None:
    if value and not re.fullmatch(r"https?://[^\s/?#]+(/[^\s?#]*)?", value):
        return "must be an http(s) URL without query or fragment"
    return None


def _oidc_scope(value: str) -> str | None:
    if "openid" not in [scope.strip() for scope in value.split(",")]:
        return "must include openid (comma-separated scopes)"
    return None


def _oidc_group_filter(value: str) -> str | None:
    try:
        re.compile(value)
    except re.error as exc:
        return f"is not a regular expression: {exc}"
    return None


def _redirect_parms(value: str) -> str | None:
    try:
        parsed = json.loads(value or "{}")
    except ValueError:
        return "must be a JSON object"
    if not isinstance(parsed, dict) or not all(isinstance(v, str) for v in parsed.values()):
        return "must be a JSON object of strings"
    return None


def _ldap_urls(value: str) -> str | None:
    try:
        parse_urls(value)
    except SettingsError as exc:
        return Problem(f"is invalid: {exc}", "config.ldap_url_invalid", why=str(exc))
    return None


register("auth_mode", str, "db_auth", choices=("db_auth", "ldap_auth", "oidc_auth"))
register("primary_auth_mode", bool, False)
register("self_registration", bool, False)
register("token_expiration", int, 30, check=between(1, MINUTES_PER_YEAR, "minutes"))
register("session_timeout", int, 60, check=between(1, MINUTES_PER_YEAR, "minutes"))
register("robot_token_duration", int, 30, check=between(1, MAX_ROBOT_DAYS, "days"))
register("robot_name_prefix", str, "robot$")
register("ldap_url", str, "", check=_ldap_urls)
register("ldap_search_dn", str, "")
register("ldap_search_password", str, "", secret=True)
register("ldap_base_dn", str, "")
register("ldap_filter", str, "")
register("ldap_uid", str, "cn")
register("ldap_scope", int, 2, choices=(0, 1, 2))
register("ldap_timeout", int, 5, check=between(1, 3600, "seconds"))
register("ldap_verify_cert", bool, True)
register("ldap_group_base_dn", str, "")
register("ldap_group_search_filter", str, "")
register("ldap_group_attribute_name", str, "cn")
register("ldap_group_search_scope", int, 2, choices=(0, 1, 2))
register("ldap_group_admin_dn", str, "")
register("ldap_group_membership_attribute", str, "memberof")
register("ldap_group_attach_parallel", bool, False)
# OpenID Connect (auth_mode oidc_auth; accounts/oidc*.py), Harbor's keys and defaults.
register("oidc_name", str, "")
register("oidc_endpoint", str, "", check=_oidc_endpoint)
register("oidc_client_id", str, "")
register("oidc_client_secret", str, "", secret=True)
register("oidc_scope", str, "openid,offline_access", check=_oidc_scope)
register("oidc_verify_cert", bool, True)
register("oidc_auto_onboard", bool, False)
register("oidc_user_claim", str, "")
register("oidc_groups_claim", str, "")
register("oidc_admin_group", str, "")
register("oidc_group_filter", str, "", check=_oidc_group_filter)
register("oidc_extra_redirect_parms", str, "{}", check=_redirect_parms)
register("oidc_logout", bool, False)
