"""The run-time settings of the audit log (harbor_py.core.configuration; audit/services.py
says what they do)."""

from audit.forwarding import endpoint_problem
from harbor_py.core.configuration import register

register("audit_log_forward_endpoint", str, "", check=endpoint_problem)
register("skip_audit_log_database", bool, False)
register("disabled_audit_log_event_types", str, "")
