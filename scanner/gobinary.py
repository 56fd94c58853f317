"""The build information Go embeds in its binaries, read as Go's own `debug/buildinfo`
reads it (go/src/debug/buildinfo/buildinfo.go): a 32-byte header starting with the magic
"\\xff Go buildinf:" on a 16-byte boundary, then the pointer size (4 or 8) and a flags byte.

- Go 1.18 and later set bit 2 of the flags: the Go version and the module information
  follow the header inline, as two varint-prefixed strings.
- Go 1.13 to 1.17 (the linker's `.go.buildinfo` section) leave bit 2 clear: bit 1 says
  big-endian, and the header holds two virtual addresses, of the Go string headers of
  `runtime.buildVersion` and `runtime.modinfo` (each a data pointer and a length, of the
  pointer size). They are resolved through the ELF program headers (the PT_LOAD segment
  whose virtual range holds the address: file offset = p_offset + addr - p_vaddr), as
  `elfExe.ReadData` does.

The module information is `runtime/debug.BuildInfo` in text form between two 16-byte
sentinels: `path`, `mod`, `dep` and `=>` (a replacement of the line before) lines,
tab-separated. Binaries of Go before 1.13 carry no build info header and are not read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

MAGIC = b"\xff Go buildinf:"
HEADER_SIZE = 32
FLAG_VERSION_INLINE = 0x2
FLAG_BIG_ENDIAN = 0x1
PT_LOAD = 1
MAX_VERSION_BYTES = 1024
MAX_MODINFO_BYTES = 4 << 20


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
    """The build info of an ELF Go binary, or None (not ELF, not Go, or before Go 1.13)."""
    if not data.startswith(b"\x7fELF"):
        return None
    start = data.find(MAGIC)
    while start != -1:
        if start % 16 == 0 and len(data) >= start + HEADER_SIZE:
            flags = data[start + 15]
            try:
                if flags & FLAG_VERSION_INLINE:
                    version, offset = _string(data, start + HEADER_SIZE)
                    modinfo, _ = _string(data, offset)
                else:
                    version, modinfo = _pointed_strings(data, start)
            except (ValueError, struct.error):
                return None
            if not version:
                return None
            return parse_modinfo(version, modinfo)
        start = data.find(MAGIC, start + 1)
    return None


def _segments(data: bytes) -> tuple[str, list[tuple[int, int, int]]]:
    """The ELF file's byte order and its PT_LOAD segments as (vaddr, offset, filesz)."""
    wide = data[4] == 2  # ELFCLASS64; 1 is ELFCLASS32
    order = ">" if data[5] == 2 else "<"  # ELFDATA2MSB
    if wide:
        (phoff,) = struct.unpack_from(order + "Q", data, 0x20)
        entsize, count = struct.unpack_from(order + "HH", data, 0x36)
    else:
        (phoff,) = struct.unpack_from(order + "I", data, 0x1C)
        entsize, count = struct.unpack_from(order + "HH", data, 0x2A)
    found = []
    for number in range(count):
        at = phoff + number * entsize
        if wide:
            kind, _, offset, vaddr, _, filesz = struct.unpack_from(order + "IIQQQQ", data, at)
        else:
            kind, offset, vaddr, _, filesz = struct.unpack_from(order + "IIIII", data, at)
        if kind == PT_LOAD:
            found.append((vaddr, offset, filesz))
    return order, found


def _read_at(data: bytes, segments: list[tuple[int, int, int]], addr: int, size: int) -> bytes:
    for vaddr, offset, filesz in segments:
        if vaddr <= addr < vaddr + filesz:
            if addr + size > vaddr + filesz:
                raise ValueError("a string runs past its segment")
            start = offset + addr - vaddr
            chunk = data[start : start + size]
            if len(chunk) != size:
                raise ValueError("a segment runs past the end of the file")
            return chunk
    raise ValueError(f"address {addr:#x} is in no loaded segment")


def _pointed_strings(data: bytes, start: int) -> tuple[str, str]:
    """Go 1.13-1.17: the header's two addresses of Go string headers, read through the
    program headers (the header's own byte order and pointer size)."""
    pointer_size = data[start + 14]
    if pointer_size not in (4, 8):
        raise ValueError("bad pointer size")
    order = ">" if data[start + 15] & FLAG_BIG_ENDIAN else "<"
    word = order + ("Q" if pointer_size == 8 else "I")
    _, segments = _segments(data)
    texts = []
    for number, limit in ((0, MAX_VERSION_BYTES), (1, MAX_MODINFO_BYTES)):
        (header_addr,) = struct.unpack_from(word, data, start + 16 + number * pointer_size)
        header = _read_at(data, segments, header_addr, 2 * pointer_size)
        (text_addr,) = struct.unpack_from(word, header, 0)
        (length,) = struct.unpack_from(word, header, pointer_size)
        if length > limit:
            raise ValueError("string too long")
        raw = _read_at(data, segments, text_addr, length) if length else b""
        texts.append(raw.decode("utf-8", "replace"))
    return texts[0], texts[1]


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
