"""A Helm chart's additions as Harbor serves them (getAddition on a CHART artifact):
`values.yaml` and `readme.md` (the chart's own files, as they are) and `dependencies`
(Chart.yaml's, or requirements.yaml's for apiVersion v1 charts, as JSON).

They are read from the chart archive (the manifest's first non-config layer, at most
MAX_CHART_BYTES) when asked for: charts are small and the page that shows them is rare,
so nothing is stored at push time.
"""

from __future__ import annotations

import io
import json
import logging
import tarfile
from dataclasses import dataclass
from typing import Any

import httpx
import yaml

from registry import storage_probe, upstream
from registry.manifests import ManifestInvalid, parse_manifest
from registry.models import Artifact

logger = logging.getLogger(__name__)

MAX_CHART_BYTES = 10 * 1024 * 1024
ADDITIONS = ("values.yaml", "readme.md", "dependencies")
# Helm's Dependency fields, in its JSON names.
DEPENDENCY_KEYS = (
    "name",
    "version",
    "repository",
    "condition",
    "tags",
    "enabled",
    "import-values",
    "alias",
)


class ChartUnreadable(Exception):
    pass


@dataclass(frozen=True)
class ChartFiles:
    files: dict[str, bytes]  # the chart root's files, by upper-cased name

    def addition(self, name: str) -> tuple[bytes, str]:
        if name == "values.yaml":
            return self.files.get("VALUES.YAML", b""), "text/plain; charset=utf-8"
        if name == "readme.md":
            return self.files.get("README.MD", b""), "text/markdown; charset=utf-8"
        return json.dumps(self.dependencies()).encode(), "application/json; charset=utf-8"

    def dependencies(self) -> list[dict[str, Any]]:
        chart = _yaml(self.files.get("CHART.YAML", b""))
        source = chart if chart.get("apiVersion") == "v2" else self._requirements()
        listed = source.get("dependencies") or []
        return [
            {key: dep[key] for key in DEPENDENCY_KEYS if key in dep}
            for dep in listed
            if isinstance(dep, dict)
        ]

    def _requirements(self) -> dict[str, Any]:
        return _yaml(self.files.get("REQUIREMENTS.YAML", b""))


def _yaml(data: bytes) -> dict[str, Any]:
    try:
        doc = yaml.safe_load(data) if data else {}
    except yaml.YAMLError:
        return {}
    return doc if isinstance(doc, dict) else {}


def read_archive(data: bytes) -> ChartFiles:
    """The files at the root of a chart archive (`<chart>/<file>`)."""
    files: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
            for member in archive:
                parts = member.name.lstrip("./").split("/")
                if member.isfile() and len(parts) == 2:
                    handle = archive.extractfile(member)
                    if handle is not None:
                        files.setdefault(parts[1].upper(), handle.read(MAX_CHART_BYTES))
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ChartUnreadable(f"not a chart archive: {exc}") from None
    if "CHART.YAML" not in files:
        raise ChartUnreadable("the archive has no Chart.yaml")
    return ChartFiles(files)


def chart_files(artifact: Artifact) -> ChartFiles:
    repository = artifact.repository.name
    try:
        parsed = parse_manifest(
            upstream.fetch_manifest(repository, artifact.digest), artifact.manifest_media_type
        )
    except (httpx.HTTPError, ManifestInvalid, ValueError) as exc:
        raise ChartUnreadable(f"manifest not readable: {exc}") from None
    config = parsed.config.digest if parsed.config else None
    layer = next((d for d in parsed.layers if d.digest != config), None)
    if layer is None or layer.size > MAX_CHART_BYTES:
        raise ChartUnreadable("no chart archive of a readable size")
    data = storage_probe.read_small_blob(layer.digest, MAX_CHART_BYTES)
    if not isinstance(data, bytes):
        try:
            data = upstream.fetch_small_blob(repository, layer.digest, MAX_CHART_BYTES)
        except (httpx.HTTPError, upstream.BlobTooLarge, ValueError) as exc:
            raise ChartUnreadable(f"chart archive not readable: {exc}") from None
    return read_archive(data)
