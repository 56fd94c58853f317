"""Build OCI image layouts with random layers, for pushing with real clients.

layout = make_image(tmp_path / "img", layer_sizes=[1024, 2048])
skopeo copy oci:<layout.path>:<layout.tag> docker://...
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip"


@dataclass
class ImageLayout:
    path: Path
    tag: str
    manifest_digest: str
    layer_digests: list[str] = field(default_factory=list)
    config_digest: str = ""

    @property
    def ref(self) -> str:
        return f"oci:{self.path}:{self.tag}"


def _write_blob(blobs: Path, data: bytes) -> tuple[str, int]:
    digest = hashlib.sha256(data).hexdigest()
    (blobs / digest).write_bytes(data)
    return f"sha256:{digest}", len(data)


def random_layer(size: int, *, seed_bytes: bytes | None = None) -> bytes:
    """A gzipped tar holding one file of `size` random bytes (level 1: random data does
    not compress, so this is mostly framing)."""
    payload = seed_bytes if seed_bytes is not None else os.urandom(size)
    tar_buffer = io.BytesIO()
    with tarfile.open(fileobj=tar_buffer, mode="w") as tar:
        info = tarfile.TarInfo("data.bin")
        info.size = len(payload)
        info.mtime = 0
        tar.addfile(info, io.BytesIO(payload))
    return gzip.compress(tar_buffer.getvalue(), compresslevel=1, mtime=0)


def make_image(
    path: Path,
    *,
    layer_sizes: list[int] | None = None,
    layers: list[bytes] | None = None,
    tag: str = "latest",
    architecture: str = "amd64",
    os_name: str = "linux",
) -> ImageLayout:
    """Write an OCI layout at `path` with one image. `layers` (already gzipped tars) are
    used as given, else one random layer per entry of `layer_sizes`."""
    blobs = path / "blobs" / "sha256"
    blobs.mkdir(parents=True, exist_ok=True)
    (path / "oci-layout").write_text(json.dumps({"imageLayoutVersion": "1.0.0"}))
    if layers is None:
        layers = [random_layer(size) for size in (layer_sizes or [1024])]
    layer_descs = []
    diff_ids = []
    for data in layers:
        digest, size = _write_blob(blobs, data)
        layer_descs.append({"mediaType": OCI_LAYER_GZIP, "digest": digest, "size": size})
        diff_ids.append("sha256:" + hashlib.sha256(gzip.decompress(data)).hexdigest())
    config = {
        "architecture": architecture,
        "os": os_name,
        "created": "2026-01-01T00:00:00Z",
        "author": "harbor-py tests",
        "config": {"Env": ["PATH=/usr/bin"], "Labels": {"nonce": os.urandom(8).hex()}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": "2026-01-01T00:00:00Z", "created_by": "imagegen"}],
    }
    config_digest, config_size = _write_blob(blobs, json.dumps(config).encode())
    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": layer_descs,
    }
    manifest_bytes = json.dumps(manifest).encode()
    manifest_digest, manifest_size = _write_blob(blobs, manifest_bytes)
    index = {
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": [
            {
                "mediaType": OCI_MANIFEST,
                "digest": manifest_digest,
                "size": manifest_size,
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (path / "index.json").write_text(json.dumps(index))
    return ImageLayout(
        path=path,
        tag=tag,
        manifest_digest=manifest_digest,
        layer_digests=[d["digest"] for d in layer_descs],
        config_digest=config_digest,
    )


def layout_blobs(path: Path) -> dict[str, bytes]:
    """Every blob in a layout, by digest."""
    return {f"sha256:{p.name}": p.read_bytes() for p in (path / "blobs" / "sha256").iterdir()}


def files_layer(
    files: dict[str, bytes],
    *,
    whiteouts: tuple[str, ...] = (),
    opaque: tuple[str, ...] = (),
    executable: tuple[str, ...] = (),
) -> bytes:
    """A gzipped tar layer holding `files` ({path: content}), with their parent
    directories, plus whiteout entries (`dir/.wh.name` deletes `dir/name` from the layers
    below) and opaque markers (`dir/.wh..wh..opq`), as image builders write them."""
    tar_buffer = io.BytesIO()
    names = [*files, *whiteouts, *(f"{d}/x" for d in opaque)]
    directories = sorted({str(Path(p).parent) for p in names} - {"."})
    with tarfile.open(fileobj=tar_buffer, mode="w") as tar:
        made: set[str] = set()
        for directory in directories:
            parts = Path(directory).parts
            for depth in range(1, len(parts) + 1):
                name = "/".join(parts[:depth])
                if name not in made:
                    made.add(name)
                    info = tarfile.TarInfo(name)
                    info.type = tarfile.DIRTYPE
                    info.mode = 0o755
                    tar.addfile(info)

        def add(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = mode
            info.mtime = 0
            tar.addfile(info, io.BytesIO(data))

        for directory in opaque:
            add(f"{directory}/.wh..wh..opq", b"")
        for path in whiteouts:
            parent, base = os.path.split(path)
            add(os.path.join(parent, f".wh.{base}"), b"")
        for path, data in files.items():
            add(path, data, 0o755 if path in executable else 0o644)
    return gzip.compress(tar_buffer.getvalue(), compresslevel=1, mtime=0)
