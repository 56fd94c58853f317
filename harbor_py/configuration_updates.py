"""Changing the run-time configuration, for PUT /configurations and the UI's settings page:
validation by the store (harbor_py.core.configuration), Harbor's rule on the authentication mode,
and the audit record in the same transaction. It reads users and writes the audit log, so
it sits with the domain, not in the kernel (docs/architecture.md, "Layers")."""

from __future__ import annotations

from django.db import transaction

from audit.services import record
from harbor_py.core import configuration
from harbor_py.core.actor import Actor
from harbor_py.core.errors import bad_request


def _non_admin_users_exist() -> bool:
    from accounts.models import User

    return User.objects.filter(is_superuser=False).exclude(username="admin").exists()


@transaction.atomic
def update_configurations(*, changes: object, actor: Actor) -> None:
    valid = configuration.validate(changes)
    new_mode = valid.get("auth_mode")
    if new_mode and new_mode != configuration.get("auth_mode") and _non_admin_users_exist():
        raise bad_request(
            "the authentication mode cannot be changed once users other than admin exist",
            key="config.auth_mode_locked",
        )
    configuration.store(valid)
    shown = ", ".join(
        f"{k}=***" if configuration.ITEMS[k].secret else f"{k}={v}"
        for k, v in sorted(valid.items())
    )
    record(
        actor=actor,
        operation="update",
        resource_type="configuration",
        resource="configurations",
        description=shown,
    )
