"""Harbor's artifact types and icons, by Harbor's rules (its artifact processors).

Harbor keys a processor by the artifact's media type: a manifest's config media type (or
WASM's when the manifest carries a WASM runtime annotation), an index's own media type
(or the `org.opencontainers.artifactType` annotation, where CNAB puts its type). Image
configs and indexes are IMAGE, Helm's config is CHART, CNAB's type is CNAB, WASM's config
is WASM; any other `application/vnd.<org>.<x>.config.<v>+json` is X, and the rest
(OCI 1.1 artifacts with an empty config included) UNKNOWN.
"""

from __future__ import annotations

import re
from typing import Any

HELM_CONFIG = "application/vnd.cncf.helm.config.v1+json"
HELM_CHART_CONTENT = "application/vnd.cncf.helm.chart.content.v1.tar+gzip"
CNAB_MEDIA_TYPE = "application/vnd.cnab.manifest.v1"
WASM_CONFIG = "application/vnd.wasm.config.v1+json"
WASM_ANNOTATIONS = (("module.wasm.image/variant", "compat"), ("run.oci.handler", "wasm"))
INDEX_TYPE_ANNOTATION = "org.opencontainers.artifactType"
_OTHER_CONFIG = re.compile(r"^application/vnd\.[^.]*\.(.*)\.config\.[^.]*\+json$")

IMAGE_MEDIA_TYPES = {
    "application/vnd.oci.image.config.v1+json",
    "application/vnd.docker.container.image.v1+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
}
KNOWN = {HELM_CONFIG: "CHART", CNAB_MEDIA_TYPE: "CNAB", WASM_CONFIG: "WASM"}

# Harbor's built-in icon digests (GET /icons/{digest}); Harbor's own values, so that a
# client that knows them finds them here too.
ICON_IMAGE = "sha256:0048162a053eef4d4ce3fe7518615bef084403614f8bca43b40ae2e762e11e06"
ICON_CHART = "sha256:61cf3a178ff0f75bf08a25d96b75cf7355dc197749a9f128ed3ef34b0df05518"
ICON_CNAB = "sha256:089bdda265c14d8686111402c8ad629e8177a1ceb7dcd0f7f39b6480f623b3bd"
ICON_WASM = "sha256:badd7693bcaf115be202748241dd0ea6ee3b0524bfab9ac22d1e1c43721afec6"
ICON_DEFAULT = "sha256:da834479c923584f4cbcdecc0dac61f32bef1d51e8aae598cf16bd154efab49f"
ICONS = {"IMAGE": ICON_IMAGE, "CHART": ICON_CHART, "CNAB": ICON_CNAB, "WASM": ICON_WASM}


def harbor_media_type(
    manifest_media_type: str,
    config_media_type: str | None,
    annotations: dict[str, Any],
) -> str:
    """The media type Harbor records (and types the artifact by)."""
    if config_media_type is None:  # an index
        declared = annotations.get(INDEX_TYPE_ANNOTATION)
        return declared if isinstance(declared, str) and declared else manifest_media_type
    if any(annotations.get(key) == value for key, value in WASM_ANNOTATIONS):
        return WASM_CONFIG
    return config_media_type


def artifact_kind(media_type: str) -> str:
    if media_type in IMAGE_MEDIA_TYPES:
        return "IMAGE"
    if media_type in KNOWN:
        return KNOWN[media_type]
    match = _OTHER_CONFIG.match(media_type)
    return match.group(1).upper() if match else "UNKNOWN"


def icon_of(kind: str) -> str:
    return ICONS.get(kind, ICON_DEFAULT)
