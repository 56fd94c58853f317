"""The built-in artifact icons served by GET /api/v2.0/icons/{digest} (Harbor's getIcon).

Harbor keys them by the digests of its own icon files (registry.artifact_types) and
answers a resized PNG, so the content never matches the digest. Ours are drawn here:
a 50x50 PNG in one colour per artifact type, made once per process with zlib alone.
"""

from __future__ import annotations

import base64
import functools
import struct
import zlib

from registry import artifact_types

SIDE = 50
COLOURS = {
    artifact_types.ICON_IMAGE: (0x00, 0x77, 0xCC),
    artifact_types.ICON_CHART: (0x0F, 0x16, 0x89),
    artifact_types.ICON_CNAB: (0x2D, 0x9C, 0x8F),
    artifact_types.ICON_WASM: (0x65, 0x4F, 0xF0),
    artifact_types.ICON_DEFAULT: (0x8A, 0x8A, 0x8A),
}


def _chunk(kind: bytes, data: bytes) -> bytes:
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))


def _png(rgb: tuple[int, int, int]) -> bytes:
    """A square with a lighter border, as 8-bit RGB."""
    light = tuple(min(255, c + 0x50) for c in rgb)
    rows = []
    for y in range(SIDE):
        pixels = b"".join(
            bytes(light if min(x, y, SIDE - 1 - x, SIDE - 1 - y) < 4 else rgb) for x in range(SIDE)
        )
        rows.append(b"\x00" + pixels)
    header = struct.pack(">IIBBBBB", SIDE, SIDE, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _chunk(b"IHDR", header)
        + _chunk(b"IDAT", zlib.compress(b"".join(rows), 9))
        + _chunk(b"IEND", b"")
    )


@functools.cache
def icon(digest: str) -> dict[str, str] | None:
    """Harbor's Icon body, or None for a digest that names no built-in icon."""
    colour = COLOURS.get(digest)
    if colour is None:
        return None
    return {"content-type": "image/png", "content": base64.b64encode(_png(colour)).decode()}
