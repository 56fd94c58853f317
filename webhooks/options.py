"""The run-time settings of webhooks (harbor_py.core.configuration; docs/webhooks.md)."""

from harbor_py.core.configuration import between, register

# Webhook executions (with their tasks and logs) that ended longer ago than this are
# purged by beat (webhooks.tasks.purge_executions, hourly).
# Not one of Harbor's: PUT /configurations writes it, GET does not answer it.
register("webhook_execution_retention_days", int, 30, check=between(1, 3650, "days"), harbor=False)
