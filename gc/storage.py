"""distribution's storage layout (docker/registry/v2/...), read and pruned directly.

distribution's own garbage-collect is offline (ARCHITECTURE.md §4), so the sweep deletes
from storage itself. The layout:

    blobs/sha256/<2 hex>/<digest hex>/data
    repositories/<name>/_layers/sha256/<hex>/link                      blob linked into a repo
    repositories/<name>/_manifests/revisions/sha256/<hex>/link         manifest in a repo
    repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link  tag history
    repositories/<name>/_uploads/<uuid>/startedat                      upload in progress
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

ROOT = Path("docker/registry/v2")


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int
    modified: dt.datetime


@dataclass(frozen=True)
class Upload:
    path: Path
    started: dt.datetime


class FilesystemStorage:
    def __init__(self, root: Path) -> None:
        self.base = root / ROOT

    def _blob_dir(self, digest: str) -> Path:
        algorithm, hex_digest = digest.split(":", 1)
        return self.base / "blobs" / algorithm / hex_digest[:2] / hex_digest

    def blobs(self) -> Iterator[StoredBlob]:
        top = self.base / "blobs" / "sha256"
        if not top.is_dir():
            return
        for prefix in os.scandir(top):
            for entry in os.scandir(prefix.path):
                try:
                    stat = os.stat(os.path.join(entry.path, "data"))
                except FileNotFoundError:
                    continue
                yield StoredBlob(
                    f"sha256:{entry.name}",
                    stat.st_size,
                    dt.datetime.fromtimestamp(stat.st_mtime, tz=dt.UTC),
                )

    def has_blob(self, digest: str) -> bool:
        return (self._blob_dir(digest) / "data").exists()

    def repositories(self) -> Iterator[Path]:
        top = self.base / "repositories"
        if not top.is_dir():
            return
        for dirpath, dirnames, _ in os.walk(top):
            if "_layers" in dirnames or "_manifests" in dirnames or "_uploads" in dirnames:
                yield Path(dirpath)
                dirnames[:] = [d for d in dirnames if not d.startswith("_")]

    def link_index(self) -> dict[str, list[Path]]:
        """digest -> every link directory (layer, revision, tag index) that names it."""
        links: dict[str, list[Path]] = {}
        for repo in self.repositories():
            candidates = [repo / "_layers" / "sha256", repo / "_manifests" / "revisions" / "sha256"]
            tags = repo / "_manifests" / "tags"
            if tags.is_dir():
                candidates += [t / "index" / "sha256" for t in tags.iterdir()]
            for directory in candidates:
                if directory.is_dir():
                    for entry in os.scandir(directory):
                        links.setdefault(f"sha256:{entry.name}", []).append(Path(entry.path))
        return links

    def uploads(self) -> Iterator[Upload]:
        for repo in self.repositories():
            uploads = repo / "_uploads"
            if not uploads.is_dir():
                continue
            for entry in os.scandir(uploads):
                started = _read_time(Path(entry.path) / "startedat")
                if started is None:
                    started = dt.datetime.fromtimestamp(entry.stat().st_mtime, tz=dt.UTC)
                yield Upload(Path(entry.path), started)

    def delete_blob(self, digest: str, links: list[Path]) -> int:
        """Remove the links and the data; return the bytes freed."""
        for link in links:
            shutil.rmtree(link, ignore_errors=True)
        directory = self._blob_dir(digest)
        try:
            size = (directory / "data").stat().st_size
        except FileNotFoundError:
            size = 0
        shutil.rmtree(directory, ignore_errors=True)
        return size

    def delete_upload(self, upload: Upload) -> None:
        shutil.rmtree(upload.path, ignore_errors=True)

    def delete_tag(self, repository: str, tag: str) -> None:
        shutil.rmtree(
            self.base / "repositories" / repository / "_manifests" / "tags" / tag,
            ignore_errors=True,
        )


def _read_time(path: Path) -> dt.datetime | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None
