"""The platform's own run-time settings (harbor_py.core.configuration): read-only mode
(harbor_py/core/readonly.py) and what the UI shows to everyone."""

from harbor_py.core.configuration import register

register("read_only", bool, False)
register("notification_enable", bool, True)
register("banner_message", str, "")
