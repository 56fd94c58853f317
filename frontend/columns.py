"""Column show/hide on the large lists, remembered per user on the server
(`frontend.models.UiPreferences`). A hidden column stays in the HTML and is hidden by
CSS (`table.hide-col-N`: no inline style under the CSP); the first column (what a row
is) cannot be hidden."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

TABLES: dict[str, list[tuple[str, Promise]]] = {
    "projects": [
        ("name", _("Name")),
        ("access", _("Access level")),
        ("role", _("My role")),
        ("repositories", _("Repositories")),
        ("quota", _("Quota used")),
        ("created", _("Created")),
    ],
    "repositories": [
        ("name", _("Name")),
        ("artifacts", _("Artifacts")),
        ("pulls", _("Pulls")),
        ("modified", _("Last modified")),
    ],
    "artifacts": [
        ("digest", _("Digest")),
        ("tags", _("Tags")),
        ("type", _("Type")),
        ("signed", _("Signed")),
        ("size", _("Size")),
        ("pushed", _("Push time")),
        ("pulled", _("Pull time")),
        ("vulnerabilities", _("Vulnerabilities")),
    ],
    "audit": [
        ("time", _("Time")),
        ("user", _("User")),
        ("operation", _("Operation")),
        ("resource_type", _("Resource type")),
        ("resource", _("Resource")),
        ("result", _("Result")),
    ],
}
