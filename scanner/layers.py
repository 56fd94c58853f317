"""Reading image layers into the file system a container sees.

A layer is read once (streamed from its tar; nothing is extracted to disk) into what the
scanner cares about: the files it analyses (package databases, package manifests, Go
binaries' build info, os-release), already parsed, and what the layer deletes from the
layers below it: whiteouts (`dir/.wh.name` removes `dir/name` and everything under it) and
opaque directories (`dir/.wh..wh..opq` hides everything the lower layers had under `dir`).
That result is what the per-layer cache stores.

`compose()` then applies the layers in order, lowest first, as overlayfs does: each layer's
deletions hit only the layers below it, then its own files are laid on top. What is left is
the container's view, not the union of every layer.
"""

from __future__ import annotations

import posixpath
import tarfile
from collections.abc import Iterable
from typing import IO, Any

from scanner import inventory

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
MAX_FILE_BYTES = 256 * 1024 * 1024  # larger members are not read (no database is that big)


def _clean(name: str) -> str:
    path = posixpath.normpath("/" + name).lstrip("/")
    return "" if path == "." else path


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def analyze_layer(stream: IO[bytes]) -> dict[str, Any]:
    """One layer's content as the cache stores it: {"files": {path: analysis},
    "whiteouts": [path], "opaque": [dir]}. `stream` is the layer blob, seekable: a tar,
    compressed with gzip (or another compression tarfile reads) or zstd (OCI's
    `tar+zstd`, through the zstandard library)."""
    if stream.read(4) == ZSTD_MAGIC:
        stream.seek(0)
        import zstandard

        with zstandard.ZstdDecompressor().stream_reader(stream) as reader:
            return _analyze_tar(reader)
    stream.seek(0)
    return _analyze_tar(stream)


def _analyze_tar(stream: IO[bytes]) -> dict[str, Any]:
    files: dict[str, Any] = {}
    whiteouts: list[str] = []
    opaque: list[str] = []
    with tarfile.open(fileobj=stream, mode="r|*") as tar:
        for member in tar:
            path = _clean(member.name)
            if not path:
                continue
            directory, base = posixpath.split(path)
            if base == OPAQUE_MARKER:
                opaque.append(directory)
                continue
            if base.startswith(WHITEOUT_PREFIX):
                whiteouts.append(posixpath.join(directory, base[len(WHITEOUT_PREFIX) :]))
                continue
            if member.isdir():
                continue
            kind = inventory.kind_of(path, executable=bool(member.mode & 0o111))
            if member.islnk() and kind is not None:
                # a hard link to a file earlier in this layer: a stream cannot read it
                # again, but its analysis is the target's
                files[path] = files.get(_clean(member.linkname))
                continue
            if kind is None or not member.isfile() or member.size > MAX_FILE_BYTES:
                if kind is not None or path in files:
                    # a non-regular file (symlink, device) where an analysed file was
                    files[path] = None
                continue
            handle = tar.extractfile(member)
            data = handle.read() if handle is not None else b""
            files[path] = inventory.analyze(kind, path, data)
    return {"files": files, "whiteouts": whiteouts, "opaque": opaque}


def _drop_under(state: dict[str, int], prefix: str, *, itself: bool) -> None:
    if not prefix:  # an opaque root: everything below goes
        state.clear()
        return
    start = prefix + "/"
    for path in [p for p in state if p.startswith(start) or (itself and p == prefix)]:
        del state[path]


def sources(layers: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Which layer (its index, lowest first) provides each analysed file of the container's
    file system."""
    state: dict[str, int] = {}
    for number, layer in enumerate(layers):
        for directory in layer.get("opaque", []):
            _drop_under(state, directory, itself=False)
        for path in layer.get("whiteouts", []):
            _drop_under(state, path, itself=True)
        for path, analysis in layer.get("files", {}).items():
            if analysis is None:
                state.pop(path, None)  # a file the scanner cannot read hides the lower one
            else:
                state[path] = number
    return state


def compose(layers: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The analysed files of the container's file system: {path: analysis}, lowest layer
    first in `layers`."""
    listed = list(layers)
    return {path: listed[number]["files"][path] for path, number in sources(listed).items()}
