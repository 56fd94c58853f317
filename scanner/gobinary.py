"""The build information Go (1.18 and later) embeds in its binaries, read as Go's own
`debug/buildinfo` documents and reads it: a 32-byte header starting with the magic
"\\xff Go buildinf:" on a 16-byte boundary, the pointer size, a flags byte whose bit 2 says
that the Go version and the module information follow inline as two varint-prefixed
strings. The module information is `runtime/debug.BuildInfo` in text form between two
16-byte sentinels: `path`, `mod`, `dep` and `=>` (a replacement of the line before)
lines, tab-separated.

Binaries of Go before 1.18 keep pointers into the data segment instead; they are not read
(docs/scanner.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
FLAG_VERSION_INLINE = 0x2


@dataclass
class Module:
    path: str
    version: str
    sum: str = ""


@dataclass
class BuildInfo:
    go_version: str
    path: str = ""
    main: Module | None = None
    deps: list[Module] = field(default_factory=list)


def _uvarint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while offset < len(data) and shift < 64:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        if byte < 0x80:
            return value, offset
        shift += 7
    raise ValueError("truncated varint")


def _string(data: bytes, offset: int) -> tuple[str, int]:
    length, offset = _uvarint(data, offset)
    if offset + length > len(data):
        raise ValueError("truncated string")
    return data[offset : offset + length].decode("utf-8", "replace"), offset + length


def read_build_info(data: bytes) -> BuildInfo | None:
    """The build info of an ELF Go binary, or None (not ELF, not Go, or before Go 1.18)."""
    if not data.startswith(b"\x7fELF"):
        return None
    start = data.find(MAGIC)
    while start != -1:
        if start % 16 == 0 and len(data) >= start + HEADER_SIZE:
            flags = data[start + 15]
            if flags & FLAG_VERSION_INLINE:
                try:
                    version, offset = _string(data, start + HEADER_SIZE)
                    modinfo, _ = _string(data, offset)
                except ValueError:
                    return None
                return parse_modinfo(version, modinfo)
            return None
        start = data.find(MAGIC, start + 1)
    return None


def parse_modinfo(go_version: str, modinfo: str) -> BuildInfo:
    if len(modinfo) >= 33 and modinfo[-17] == "\n":
        modinfo = modinfo[16:-16]  # the sentinels around the text
    info = BuildInfo(go_version=go_version)
    last: Module | None = None
    for line in modinfo.splitlines():
        parts = line.split("\t")
        if parts[0] == "path" and len(parts) > 1:
            info.path = parts[1]
        elif parts[0] in ("mod", "dep") and len(parts) >= 3:
            last = Module(parts[1], parts[2], parts[3] if len(parts) > 3 else "")
            if parts[0] == "mod":
                info.main = last
            else:
                info.deps.append(last)
        elif parts[0] == "=>" and len(parts) >= 3 and last is not None:
            last.path, last.version = parts[1], parts[2]  # the replacement is what is built
    return info
