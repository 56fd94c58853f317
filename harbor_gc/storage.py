"""distribution's storage layout (docker/registry/v2/...), read and pruned directly, on the
filesystem driver or on S3.

distribution's own garbage-collect is offline (ARCHITECTURE.md §4), so the sweep deletes
from storage itself. The layout, the same on both drivers (on S3 under `rootdirectory`):

    blobs/sha256/<2 hex>/<digest hex>/data
    repositories/<name>/_layers/sha256/<hex>/link                      blob linked into a repo
    repositories/<name>/_manifests/revisions/sha256/<hex>/link         manifest in a repo
    repositories/<name>/_manifests/tags/<tag>/current/link             where a tag points
    repositories/<name>/_manifests/tags/<tag>/index/sha256/<hex>/link  tag history
    repositories/<name>/_uploads/<uuid>/startedat                      upload in progress

A link is named by a handle (a directory path on the filesystem, an object key on S3) that
only the storage that produced it interprets.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import shutil
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

from django.conf import settings

ROOT = Path("docker/registry/v2")
LinkKind = Literal["layer", "revision", "tag_index", "tag_current"]
# Repository path components never start with "_" (distribution's name grammar), so the
# first "/_layers/", "/_manifests/" or "/_uploads/" ends the repository name.
_LINK_PATTERNS: list[tuple[LinkKind, re.Pattern[str]]] = [
    ("layer", re.compile(r"^(?P<repo>.+?)/_layers/sha256/(?P<hex>[0-9a-f]{64})/link$")),
    (
        "revision",
        re.compile(r"^(?P<repo>.+?)/_manifests/revisions/sha256/(?P<hex>[0-9a-f]{64})/link$"),
    ),
    (
        "tag_index",
        re.compile(
            r"^(?P<repo>.+?)/_manifests/tags/(?P<tag>[^/]+)/index/sha256/(?P<hex>[0-9a-f]{64})/link$"
        ),
    ),
    ("tag_current", re.compile(r"^(?P<repo>.+?)/_manifests/tags/(?P<tag>[^/]+)/current/link$")),
]
_UPLOAD_PATTERN = re.compile(r"^(?P<repo>.+?)/_uploads/(?P<uuid>[^/]+)/(?P<rest>.+)$")
_BLOB_PATTERN = re.compile(r"^sha256/[0-9a-f]{2}/(?P<hex>[0-9a-f]{64})/data$")


@dataclass(frozen=True)
class StoredBlob:
    digest: str
    size: int
    modified: dt.datetime


@dataclass(frozen=True)
class StoredLink:
    repository: str
    kind: LinkKind
    digest: str  # "" for a tag's current link (its target is in the file, not the path)
    tag: str
    handle: str


@dataclass(frozen=True)
class Upload:
    repository: str
    handle: str
    started: dt.datetime


class Storage(Protocol):
    """What GC and fsck need from registry storage."""

    def blobs(self) -> Iterator[StoredBlob]: ...

    def has_blob(self, digest: str) -> bool: ...

    def links(self) -> Iterator[StoredLink]: ...

    def link_index(self) -> dict[str, list[str]]: ...

    def uploads(self) -> Iterator[Upload]: ...

    def delete_blob(self, digest: str, links: list[str]) -> int: ...

    def delete_upload(self, upload: Upload) -> None: ...

    def delete_tag(self, repository: str, tag: str) -> None: ...


def index_links(links: Iterable[StoredLink]) -> dict[str, list[str]]:
    """digest -> every link (layer, revision, tag index) that names it."""
    index: dict[str, list[str]] = {}
    for link in links:
        if link.digest:
            index.setdefault(link.digest, []).append(link.handle)
    return index


def parse_link(relative: str, handle: str) -> StoredLink | None:
    """A path below repositories/ ending in /link, as a StoredLink."""
    for kind, pattern in _LINK_PATTERNS:
        match = pattern.match(relative)
        if match:
            groups = match.groupdict()
            digest = f"sha256:{groups['hex']}" if groups.get("hex") else ""
            return StoredLink(groups["repo"], kind, digest, groups.get("tag") or "", handle)
    return None


def _blob_key(digest: str) -> str:
    algorithm, hex_digest = digest.split(":", 1)
    return f"blobs/{algorithm}/{hex_digest[:2]}/{hex_digest}"


class FilesystemStorage:
    def __init__(self, root: Path) -> None:
        self.base = Path(root) / ROOT

    def _blob_dir(self, digest: str) -> Path:
        return self.base / _blob_key(digest)

    def blobs(self) -> Iterator[StoredBlob]:
        top = self.base / "blobs" / "sha256"
        if not top.is_dir():
            return
        for prefix in os.scandir(top):
            for entry in os.scandir(prefix.path):
                try:
                    stat = os.stat(os.path.join(entry.path, "data"))
                except (FileNotFoundError, NotADirectoryError):
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

    def links(self) -> Iterator[StoredLink]:
        top = self.base / "repositories"
        for repo in self.repositories():
            name = repo.relative_to(top).as_posix()
            kinds: tuple[tuple[LinkKind, Path], ...] = (
                ("layer", repo / "_layers" / "sha256"),
                ("revision", repo / "_manifests" / "revisions" / "sha256"),
            )
            for kind, directory in kinds:
                for entry in _scandir(directory):
                    # distribution's manifest DELETE removes a revision's link file and
                    # leaves its directory: that revision is gone (as on S3, which has no
                    # directories). Layer directories stay listed so the sweep tidies them.
                    if kind == "revision" and not os.path.exists(f"{entry.path}/link"):
                        continue
                    yield StoredLink(name, kind, f"sha256:{entry.name}", "", entry.path)
            for tag in _scandir(repo / "_manifests" / "tags"):
                current = os.path.join(tag.path, "current")
                if os.path.exists(os.path.join(current, "link")):
                    yield StoredLink(name, "tag_current", "", tag.name, current)
                for entry in _scandir(Path(tag.path) / "index" / "sha256"):
                    digest = f"sha256:{entry.name}"
                    yield StoredLink(name, "tag_index", digest, tag.name, entry.path)

    def link_index(self) -> dict[str, list[str]]:
        return index_links(self.links())

    def uploads(self) -> Iterator[Upload]:
        top = self.base / "repositories"
        for repo in self.repositories():
            name = repo.relative_to(top).as_posix()
            for entry in _scandir(repo / "_uploads"):
                started = _read_time(Path(entry.path) / "startedat")
                if started is None:
                    try:
                        started = dt.datetime.fromtimestamp(entry.stat().st_mtime, tz=dt.UTC)
                    except FileNotFoundError:
                        continue  # the upload completed meanwhile: distribution removed it
                yield Upload(name, entry.path, started)

    def delete_blob(self, digest: str, links: list[str]) -> int:
        """Remove the links and the data; return the bytes freed."""
        for link in links:
            _remove_dir(link, "link")
        directory = str(self._blob_dir(digest))
        try:
            size = os.stat(os.path.join(directory, "data")).st_size
        except FileNotFoundError:
            size = 0
        _remove_dir(directory, "data")
        return size

    def delete_upload(self, upload: Upload) -> None:
        shutil.rmtree(upload.handle, ignore_errors=True)

    def delete_tag(self, repository: str, tag: str) -> None:
        shutil.rmtree(
            self.base / "repositories" / repository / "_manifests" / "tags" / tag,
            ignore_errors=True,
        )


class S3Storage:
    """The same layout in a bucket, as distribution's s3 driver writes it. boto3 clients are
    thread-safe, so the parallel sweep shares one."""

    def __init__(
        self,
        *,
        bucket: str,
        root: str = "",
        region: str = "us-east-1",
        endpoint: str = "",
        access_key: str = "",
        secret_key: str = "",
        secure: bool = True,
        client: Any = None,
    ) -> None:
        import boto3
        from botocore.config import Config

        self.bucket = bucket
        # distribution's s3Path: rootdirectory without its leading "/" + "/docker/registry/v2"
        self.prefix = (root.strip("/") + "/" if root.strip("/") else "") + ROOT.as_posix() + "/"
        self.client = client or boto3.client(
            "s3",
            region_name=region,
            endpoint_url=endpoint or None,
            aws_access_key_id=access_key or None,
            aws_secret_access_key=secret_key or None,
            use_ssl=secure,
            config=Config(
                s3={"addressing_style": "path"} if endpoint else {},
                max_pool_connections=16,
                retries={"max_attempts": 3, "mode": "standard"},
            ),
        )

    def _list(self, prefix: str) -> Iterator[dict[str, Any]]:
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
            yield from page.get("Contents", [])

    def download_tree(self, target: Path) -> int:
        """Copy the registry's objects (uploads in progress left out) into `target` in
        distribution's filesystem layout, so that a backup does not depend on the driver.
        Returns the number of files."""
        base = target / ROOT
        keys = [
            item["Key"]
            for item in self._list("")
            if "/_uploads/" not in item["Key"][len(self.prefix) - 1 :]
        ]

        def fetch(key: str) -> None:
            from botocore.exceptions import ClientError

            path = base / key[len(self.prefix) :]
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                self.client.download_file(self.bucket, key, str(path))
            except ClientError as exc:  # GC swept it meanwhile: the backup notes the gap
                if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey"):
                    raise

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(fetch, keys))
        return sum(1 for path in base.rglob("*") if path.is_file())

    def upload_tree(self, source: Path) -> int:
        """The reverse of download_tree: put a filesystem layout's files into the bucket."""
        base = source / ROOT
        files = [path for path in base.rglob("*") if path.is_file()]

        def put(path: Path) -> None:
            key = self.prefix + path.relative_to(base).as_posix()
            self.client.upload_file(str(path), self.bucket, key)

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(put, files))
        return len(files)

    def blobs(self) -> Iterator[StoredBlob]:
        start = len(self.prefix) + len("blobs/")
        for item in self._list("blobs/"):
            match = _BLOB_PATTERN.match(item["Key"][start:])
            if match:
                modified = item["LastModified"].astimezone(dt.UTC)
                yield StoredBlob(f"sha256:{match['hex']}", item["Size"], modified)

    def has_blob(self, digest: str) -> bool:
        from botocore.exceptions import ClientError

        try:
            self.client.head_object(Bucket=self.bucket, Key=self._data_key(digest))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("404", "NoSuchKey", "NotFound"):
                return False
            raise
        return True

    def _data_key(self, digest: str) -> str:
        return f"{self.prefix}{_blob_key(digest)}/data"

    def _repository_keys(self) -> Iterator[tuple[str, dict[str, Any]]]:
        start = len(self.prefix) + len("repositories/")
        for item in self._list("repositories/"):
            yield item["Key"][start:], item

    def links(self) -> Iterator[StoredLink]:
        for relative, item in self._repository_keys():
            if relative.endswith("/link"):
                link = parse_link(relative, item["Key"])
                if link is not None:
                    yield link

    def link_index(self) -> dict[str, list[str]]:
        return index_links(self.links())

    def uploads(self) -> Iterator[Upload]:
        # handle -> (repository, start time, whether it came from startedat): startedat is
        # written once when the upload begins, so its date is the start time.
        found: dict[str, tuple[str, dt.datetime, bool]] = {}
        for relative, item in self._repository_keys():
            match = _UPLOAD_PATTERN.match(relative)
            if not match:
                continue
            handle = f"{self.prefix}repositories/{match['repo']}/_uploads/{match['uuid']}/"
            modified = item["LastModified"].astimezone(dt.UTC)
            is_start = match["rest"] == "startedat"
            known = found.get(handle)
            if known is None or (not known[2] and (is_start or modified < known[1])):
                found[handle] = (match["repo"], modified, is_start)
        for handle, (repository, started, _) in found.items():
            yield Upload(repository, handle, started)

    def _delete_keys(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):
            batch = keys[start : start + 1000]
            response = self.client.delete_objects(
                Bucket=self.bucket,
                Delete={"Objects": [{"Key": key} for key in batch], "Quiet": True},
            )
            errors = response.get("Errors") or []
            if errors:
                raise OSError(f"S3 refused to delete {errors[0].get('Key')}: {errors[0]}")

    def delete_blob(self, digest: str, links: list[str]) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        key = self._data_key(digest)
        try:
            head = self.client.head_object(Bucket=self.bucket, Key=key)
            size = int(head["ContentLength"])
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") not in ("404", "NoSuchKey", "NotFound"):
                raise OSError(str(exc)) from exc
            size = 0
        except BotoCoreError as exc:
            raise OSError(str(exc)) from exc
        try:
            self._delete_keys([*links, key])
        except (BotoCoreError, ClientError) as exc:
            raise OSError(str(exc)) from exc
        return size

    def _delete_prefix(self, prefix: str) -> None:
        keys = [item["Key"] for item in self._list(prefix)]
        self._delete_keys(keys)

    def delete_upload(self, upload: Upload) -> None:
        self._delete_prefix(upload.handle[len(self.prefix) :])

    def delete_tag(self, repository: str, tag: str) -> None:
        self._delete_prefix(f"repositories/{repository}/_manifests/tags/{tag}/")


def storage_from_settings() -> Storage:
    """The storage distribution is configured with (settings.HARBOR["STORAGE"])."""
    config = settings.HARBOR
    if config.get("STORAGE") == "s3":
        s3 = config["S3"]
        return S3Storage(
            bucket=s3["BUCKET"],
            root=s3["ROOT"],
            region=s3["REGION"],
            endpoint=s3["ENDPOINT"],
            access_key=s3["ACCESS_KEY"],
            secret_key=s3["SECRET_KEY"],
            secure=s3["SECURE"],
        )
    return FilesystemStorage(Path(config.get("STORAGE_ROOT") or settings.RUNTIME.storage_dir))


def _remove_dir(directory: str, name: str) -> None:
    """Remove a directory holding one file `name` (what distribution keeps in a blob or link
    directory) with two system calls; anything else in it goes too."""
    with contextlib.suppress(FileNotFoundError):
        os.unlink(os.path.join(directory, name))
    try:
        os.rmdir(directory)
    except FileNotFoundError:
        pass
    except OSError:
        shutil.rmtree(directory, ignore_errors=True)


def _scandir(directory: Path | str) -> list[os.DirEntry[str]]:
    try:
        return list(os.scandir(directory))
    except (FileNotFoundError, NotADirectoryError):
        return []


def _read_time(path: Path) -> dt.datetime | None:
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    # distribution writes RFC 3339 with nanoseconds; fromisoformat takes microseconds.
    text = re.sub(r"(\.\d{6})\d+", r"\1", text.replace("Z", "+00:00"))
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None
