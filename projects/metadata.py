"""Harbor's project metadata: which keys exist and which values each accepts.

Values are strings, as in Harbor. `public` is not stored in Project.metadata but in
Project.public; everything else lives in the JSON column.
"""

from __future__ import annotations

from harbor_py.core.errors import bad_request

BOOL_KEYS = frozenset(
    {
        "public",
        "enable_content_trust",
        "enable_content_trust_cosign",
        "prevent_vul",
        "auto_scan",
        "auto_sbom_generation",
        "reuse_sys_cve_allowlist",
        "proxy_cache_local_on_not_found",
        "proxy_referrer_api",
    }
)
SEVERITIES = ("none", "low", "medium", "high", "critical")
# Meaningful for proxy cache projects only; Harbor drops them for the others, and
# harbor-py has no proxy cache projects (yet).
PROXY_KEYS = frozenset(
    {
        "proxy_speed_kb",
        "max_upstream_conn",
        "proxy_cache_filter_pattern",
        "proxy_cache_filter_kind",
        "proxy_cache_local_on_not_found",
        "proxy_referrer_api",
    }
)
# Every key of Harbor's ProjectMetadata definition.
KNOWN_KEYS = BOOL_KEYS | PROXY_KEYS | {"severity", "retention_id"}
# The keys the /metadatas endpoints accept (Harbor's projectMetadataAPI.validate).
API_KEYS = frozenset(
    {
        "public",
        "enable_content_trust",
        "enable_content_trust_cosign",
        "prevent_vul",
        "auto_scan",
        "auto_sbom_generation",
        "severity",
    }
)

_GO_TRUE = {"1", "t", "T", "TRUE", "true", "True"}
_GO_FALSE = {"0", "f", "F", "FALSE", "false", "False"}


def clean_request_metadata(metadata: dict[str, str]) -> dict[str, str]:
    """ProjectReq.metadata (create and update): known keys only, "true"/"false" booleans,
    a known severity; proxy-cache keys are dropped, as Harbor does for ordinary projects."""
    unknown = sorted(set(metadata) - KNOWN_KEYS)
    if unknown:
        raise bad_request(f"unknown metadata keys: {', '.join(unknown)}")
    cleaned = {}
    for key, value in metadata.items():
        if key in PROXY_KEYS:
            continue
        if key in BOOL_KEYS and value not in ("true", "false"):
            raise bad_request(f"metadata.{key} should only be 'true' or 'false', got {value!r}")
        if key == "severity" and value.lower() not in SEVERITIES:
            raise bad_request(f"metadata.severity must be one of {', '.join(SEVERITIES)}")
        cleaned[key] = value.lower() if key == "severity" else value
    return cleaned


def clean_api_pair(metadata: object) -> tuple[str, str]:
    """The body of POST and PUT on /metadatas: exactly one known key with a valid value,
    normalised as Harbor does (Go's ParseBool for booleans, lower-case severities)."""
    if not isinstance(metadata, dict) or len(metadata) != 1:
        raise bad_request("only allow one key/value pair")
    [(key, value)] = metadata.items()
    if key not in API_KEYS:
        raise bad_request(f"invalid key: {key}")
    if not isinstance(value, str):
        raise bad_request(f"invalid value: {value}")
    if key == "severity":
        if value.lower() not in SEVERITIES:
            raise bad_request(f"invalid value: {value}")
        return key, value.lower()
    if value in _GO_TRUE:
        return key, "true"
    if value in _GO_FALSE:
        return key, "false"
    raise bad_request(f"invalid value: {value}")
