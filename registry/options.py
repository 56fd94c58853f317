"""The run-time settings of the registry (harbor_py.core.configuration)."""

from harbor_py.core.configuration import register

# Harbor's setting (a scanner's pull leaves the pull time alone), kept so that its API
# clients can read and write it; no scanner pulls here yet.
register("scanner_skip_update_pulltime", bool, False)
