"""A manifest's descriptor sizes are claims; the stored blobs' sizes are facts.

Before a manifest push is recorded, every descriptor it makes (config, layers, index
children, subject) is checked against what the repository stores: a mismatch refuses the
push with `MANIFEST_INVALID`, so the blob table and quota usage only ever hold true sizes. A
pusher can then neither shrink its own usage (declaring `"size": 1` for a 1 MiB layer) nor
inflate a shared layer's recorded size to push other projects over their quotas.

On the filesystem driver each check is two `stat` calls (the repository's link and the
blob's data, as `storage_probe` does for blob HEADs); on other drivers a HEAD to
distribution. A config or layer absent from the repository is refused as distribution would
(`MANIFEST_BLOB_UNKNOWN`), except a non-distributable ("foreign") layer, which clients fetch
from its URLs: it is recorded with size 0, the bytes stored here. An absent index child or
subject is left to distribution (which refuses a missing child; a subject may come later).
"""

from __future__ import annotations

from collections.abc import Iterable

from harbor_py.core.errors import Code, DomainError
from registry import storage_probe, upstream
from registry.manifests import MANIFEST_ACCEPT, Descriptor, ParsedManifest

FOREIGN_LAYERS = frozenset(
    {
        "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
        "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    }
)
_PULL = frozenset({"pull"})


class SizeRefused(DomainError):
    pass


def _stored_size(repository: str, digest: str, *, manifest: bool) -> int | None:
    size = storage_probe.linked_blob_size(
        repository, digest, links="_manifests/revisions" if manifest else "_layers"
    )
    if size is None or isinstance(size, int):  # else UNKNOWN: storage not readable here
        return size
    kind = "manifests" if manifest else "blobs"
    headers = {"Accept": MANIFEST_ACCEPT if manifest else "*/*"}
    result = upstream.request(
        "HEAD", repository, f"/v2/{repository}/{kind}/{digest}", _PULL, headers=headers
    )
    if result.status_code != 200:
        return None
    return int(result.headers.get("Content-Length") or 0)


def _where(parsed: ParsedManifest) -> Iterable[tuple[str, Descriptor, bool]]:
    if parsed.config is not None:
        yield "config", parsed.config, False
    for i, layer in enumerate(parsed.layers):
        yield f"layers[{i}]", layer, False
    for i, child in enumerate(parsed.children):
        yield f"manifests[{i}]", child, True
    if parsed.subject is not None:
        yield "subject", parsed.subject, True


def verified_sizes(repository: str, parsed: ParsedManifest) -> dict[str, int]:
    """The stored size of every blob the manifest keeps alive (itself included), by digest;
    raises SizeRefused when a descriptor's size is not the stored blob's."""
    sizes = {parsed.digest: parsed.size}
    checked: dict[str, int | None] = {}
    for where, descriptor, manifest in _where(parsed):
        digest = descriptor.digest
        if digest not in checked:
            checked[digest] = _stored_size(repository, digest, manifest=manifest)
        stored = checked[digest]
        if stored is None:
            if manifest:
                continue
            if descriptor.media_type in FOREIGN_LAYERS:
                sizes.setdefault(digest, 0)
                continue
            raise SizeRefused(
                Code.MANIFEST_BLOB_UNKNOWN, f"{where}: blob unknown to registry: {digest}"
            )
        if stored != descriptor.size:
            raise SizeRefused(
                Code.MANIFEST_INVALID,
                f"{where}: declared size {descriptor.size} does not match the stored "
                f"{stored} bytes of {digest}",
            )
        if not manifest:
            sizes[digest] = stored
    return sizes
