"""The LDAP settings' URL parsing (accounts.ldap_settings.parse_urls) and the published
operation ids of the directory tools, without a database or a directory."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator

from accounts.ldap_settings import SettingsError, parse_urls


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ldap://a", ("ldap://a:389",)),
        ("ldaps://a", ("ldaps://a:636",)),
        ("a.example:3890", ("ldap://a.example:3890",)),
        ("ldap://a:1, ldaps://b:2 ldap://c", ("ldap://a:1", "ldaps://b:2", "ldap://c:389")),
        ("ldap://[::1]:10389", ("ldap://[::1]:10389",)),
        ("", ()),
    ],
)
def test_urls(value, expected):
    assert parse_urls(value) == expected


@pytest.mark.parametrize("value", ["http://a", "ldap://a:x", "ldap://a/dc=x", "ldap://"])
def test_bad_urls(value):
    with pytest.raises(SettingsError):
        parse_urls(value)


def test_the_operations_are_published():
    schema = SchemaGenerator().get_schema(request=None, public=True)
    published = {
        (path, method): op.get("operationId")
        for path, methods in schema["paths"].items()
        for method, op in methods.items()
    }
    assert published[("/api/v2.0/ldap/ping", "post")] == "pingLdap"
    assert published[("/api/v2.0/ldap/users/search", "get")] == "searchLdapUser"
    assert published[("/api/v2.0/ldap/users/import", "post")] == "importLdapUser"
    assert published[("/api/v2.0/ldap/groups/search", "get")] == "searchLdapGroup"
