"""Run-time settings are registered by the apps that own them (their `options` module);
the kernel's store (harbor_py.core.configuration) knows none of them."""

from __future__ import annotations

import pytest

from harbor_py.core import configuration
from harbor_py.core.errors import DomainError

OWNERS = {
    "harbor_py.options": {"read_only", "notification_enable", "banner_message"},
    "accounts.options": {
        "auth_mode",
        "token_expiration",
        "robot_name_prefix",
        "ldap_url",
        "oidc_endpoint",
        "oidc_client_secret",
    },
    "projects.options": {"project_creation_restriction"},
    "quotas.options": {"quota_per_project_enable", "storage_per_project"},
    "audit.options": {"audit_log_forward_endpoint", "skip_audit_log_database"},
    "registry.options": {"scanner_skip_update_pulltime"},
    "webhooks.options": {"webhook_execution_retention_days"},
}


def test_the_apps_registered_their_settings_when_they_loaded():
    for keys in OWNERS.values():
        assert keys <= set(configuration.ITEMS)
    harbors = [key for key, item in configuration.ITEMS.items() if item.harbor]
    assert len(harbors) == 46  # Harbor's settings that harbor-py serves (13 OIDC)
    assert set(configuration.ITEMS) - set(harbors) == {"webhook_execution_retention_days"}


def test_a_second_registration_of_a_key_is_refused():
    with pytest.raises(ValueError, match="auth_mode is registered twice"):
        configuration.register("auth_mode", str, "db_auth")


def test_a_default_its_own_checks_refuse_is_refused(monkeypatch):
    monkeypatch.setattr(configuration, "ITEMS", dict(configuration.ITEMS))
    with pytest.raises(ValueError, match="the default of new_one is invalid"):
        configuration.register("new_one", int, 0, check=configuration.between(1, 9, "days"))
    assert "new_one" not in configuration.ITEMS


def test_an_owners_check_still_guards_its_setting():
    with pytest.raises(DomainError, match="ldap_url is invalid"):
        configuration.validate({"ldap_url": "ftp://nowhere"})
    with pytest.raises(DomainError, match="must be -1"):
        configuration.validate({"storage_per_project": -2})
