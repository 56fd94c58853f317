"""Layers into the container's file system (whiteouts, opaque directories), the package
databases the scanner reads, Go build info, and the SBOM documents."""

from __future__ import annotations

import io
import json
import shutil
import subprocess
from datetime import UTC, datetime

import pytest

from scanner import gobinary, inventory, layers, matching, osv, sbom, vulndb
from tests.imagegen import files_layer
from tests.scanner_images import DEBIAN_PACKAGES, OSV_DIR, debian_image_layers, dist_info


def _fs(*image_layers: bytes) -> dict:
    return layers.compose(layers.analyze_layer(io.BytesIO(d)) for d in image_layers)


def _names(files: dict) -> set[tuple[str, str]]:
    return {(p["name"], p["version"]) for p in inventory.packages(files)}


SITE = "usr/lib/python3/dist-packages"


def test_a_whiteout_deletes_the_lower_layers_entry_and_everything_under_it():
    lower = files_layer(
        {
            f"{SITE}/a-1.0.dist-info/METADATA": dist_info("a", "1.0"),
            f"{SITE}/b-1.0.dist-info/METADATA": dist_info("b", "1.0"),
        }
    )
    upper = files_layer({}, whiteouts=(f"{SITE}/a-1.0.dist-info",))
    assert _names(_fs(lower, upper)) == {("b", "1.0")}
    # the union of the layers would still have both
    assert _names(_fs(lower)) == {("a", "1.0"), ("b", "1.0")}


def test_an_opaque_directory_hides_only_the_lower_layers_content():
    lower = files_layer({f"{SITE}/a-1.0.dist-info/METADATA": dist_info("a", "1.0")})
    upper = files_layer({f"{SITE}/c-2.0.dist-info/METADATA": dist_info("c", "2.0")}, opaque=(SITE,))
    assert _names(_fs(lower, upper)) == {("c", "2.0")}
    # a layer above the opaque one adds to it again
    above = files_layer({f"{SITE}/d-3.0.dist-info/METADATA": dist_info("d", "3.0")})
    assert _names(_fs(lower, upper, above)) == {("c", "2.0"), ("d", "3.0")}


def test_an_upper_file_replaces_the_lower_database():
    lower = files_layer(
        {"var/lib/dpkg/status": b"Package: old\nStatus: install ok installed\nVersion: 1\n"}
    )
    upper = files_layer(
        {"var/lib/dpkg/status": b"Package: new\nStatus: install ok installed\nVersion: 2\n"}
    )
    assert _names(_fs(lower, upper)) == {("new", "2")}


def test_the_generated_debian_image_inventory():
    packages = inventory.packages(_fs(*debian_image_layers()))
    assert {(p["name"], p["version"]) for p in packages} == DEBIAN_PACKAGES
    by_name = {p["name"]: p for p in packages}
    # matched by source package, as Debian's advisories are
    assert (by_name["libssl3"]["ecosystem"], by_name["libssl3"]["key"]) == ("Debian", "openssl")
    assert by_name["libssl3"]["release"] == "12"
    assert by_name["libssl3"]["purl"] == "pkg:deb/debian/libssl3@3.0.11-1~deb12u1?arch=amd64"
    assert by_name["@babel/traverse"]["purl"] == "pkg:npm/%40babel/traverse@7.22.0"
    assert by_name["Legacy_Pkg"]["key"] == "legacy-pkg"


def _buildinfo_binary(go_version: str, modinfo: str) -> bytes:
    def varint(n: int) -> bytes:
        out = b""
        while True:
            byte = n & 0x7F
            n >>= 7
            if n:
                out += bytes([byte | 0x80])
            else:
                return out + bytes([byte])

    sentinel = b"0123456789abcdef"
    info = sentinel + modinfo.encode() + b"\n" + sentinel
    header = gobinary.MAGIC + bytes([8, gobinary.FLAG_VERSION_INLINE])
    header += b"\0" * (32 - len(header))
    body = header + varint(len(go_version)) + go_version.encode() + varint(len(info)) + info
    prefix = b"\x7fELF" + b"\0" * 60  # the section starts 16-byte aligned, as Go's does
    return prefix + body + b"\0" * 64


def test_go_build_info_in_the_documented_format():
    modinfo = (
        "path\texample.com/scanme\n"
        "mod\texample.com/scanme\t(devel)\t\n"
        "dep\texample.com/scanme/dep\tv1.2.0\th1:abc=\n"
        "dep\texample.com/replaced\tv0.1.0\th1:def=\n"
        "=>\texample.com/fork\tv0.1.1\th1:ghi="
    )
    info = gobinary.read_build_info(_buildinfo_binary("go1.21.5", modinfo))
    assert info is not None and info.go_version == "go1.21.5" and info.path == "example.com/scanme"
    assert [(m.path, m.version) for m in info.deps] == [
        ("example.com/scanme/dep", "v1.2.0"),
        ("example.com/fork", "v0.1.1"),
    ]
    layer = files_layer(
        {"usr/bin/scanme": _buildinfo_binary("go1.21.5", modinfo)}, executable=("usr/bin/scanme",)
    )
    assert _names(_fs(layer)) == {
        ("stdlib", "1.21.5"),
        ("example.com/scanme/dep", "v1.2.0"),
        ("example.com/fork", "v0.1.1"),
    }
    assert gobinary.read_build_info(b"\x7fELF not go") is None
    assert gobinary.read_build_info(b"#!/bin/sh\n") is None


def _pre118_binary(go_version: str, modinfo: str, *, wide: bool = True, big: bool = False) -> bytes:
    """An ELF executable with the build info as the linker of Go 1.13 to 1.17 wrote it
    (cmd/link's `.go.buildinfo`, read by go/src/debug/buildinfo/buildinfo.go): the 32-byte
    header with the pointer size, the byte order (1: big-endian; bit 2 clear: no inline
    strings) and the virtual addresses of the Go string headers of runtime.buildVersion and
    runtime.modinfo, which sit in a data segment mapped at another address than its file
    offset, as in a real binary. A PT_NOTE entry comes first so that only PT_LOAD maps."""
    import struct

    order = ">" if big else "<"
    word = order + ("Q" if wide else "I")
    pointer = 8 if wide else 4
    sentinel = b"0123456789abcdef"
    info = sentinel + modinfo.encode() + b"\n" + sentinel
    data_offset, data_vaddr = 0x1000, 0x6F2000  # page-congruent, as linkers lay them out
    header = gobinary.MAGIC + bytes([pointer, 1 if big else 0])
    strings_at = data_vaddr + 32 + 4 * pointer
    version_header = struct.pack(word, strings_at) + struct.pack(word, len(go_version))
    info_header = struct.pack(word, strings_at + len(go_version)) + struct.pack(word, len(info))
    addresses = struct.pack(word, data_vaddr + 32) + struct.pack(
        word, data_vaddr + 32 + 2 * pointer
    )
    segment = header + addresses
    segment += b"\0" * (32 - len(segment)) + version_header + info_header
    segment += go_version.encode() + info + b"\0" * 8
    ident = b"\x7fELF" + bytes([2 if wide else 1, 2 if big else 1, 1]) + b"\0" * 9
    loads = [(4, 0, 0, 0), (1, 0, 0x400000, 0x1000), (1, data_offset, data_vaddr, len(segment))]
    if wide:
        elf = ident + struct.pack(order + "HHIQQQIHHHHHH", 2, 62, 1, 0x401000, 64, 0, 0, 64,
                                  56, len(loads), 64, 0, 0)  # fmt: skip
        phdrs = b"".join(
            struct.pack(order + "IIQQQQQQ", kind, 5, off, va, va, size, size, 0x1000)
            for kind, off, va, size in loads
        )
    else:
        elf = ident + struct.pack(order + "HHIIIIIHHHHHH", 2, 8, 1, 0x401000, 52, 0, 0, 52,
                                  32, len(loads), 40, 0, 0)  # fmt: skip
        phdrs = b"".join(
            struct.pack(order + "IIIIIIII", kind, off, va, va, size, size, 5, 0x1000)
            for kind, off, va, size in loads
        )
    text = elf + phdrs
    return text + b"\0" * (data_offset - len(text)) + segment


@pytest.mark.parametrize(("wide", "big"), [(True, False), (False, False), (False, True)])
def test_go_build_info_of_go_before_1_18(wide, big):
    """Go 1.13-1.17 binaries: the header points at Go string headers in the data segment
    (64-bit little-endian as amd64 builds, 32-bit little- and big-endian as 386 and mips)."""
    modinfo = (
        "path\texample.com/legacy\n"
        "mod\texample.com/legacy\tv1.0.0\th1:aaa=\n"
        "dep\texample.com/scanme/dep\tv1.2.0\th1:abc=\n"
    )
    data = _pre118_binary("go1.16.15", modinfo, wide=wide, big=big)
    info = gobinary.read_build_info(data)
    assert info is not None and info.go_version == "go1.16.15"
    assert info.path == "example.com/legacy"
    assert info.main is not None and (info.main.path, info.main.version) == (
        "example.com/legacy",
        "v1.0.0",
    )
    assert [(m.path, m.version) for m in info.deps] == [("example.com/scanme/dep", "v1.2.0")]
    layer = files_layer({"usr/bin/legacy": data}, executable=("usr/bin/legacy",))
    packages = inventory.packages(_fs(layer))
    assert {(p["name"], p["version"]) for p in packages} == {
        ("stdlib", "1.16.15"),
        ("example.com/legacy", "v1.0.0"),
        ("example.com/scanme/dep", "v1.2.0"),
    }
    index = vulndb.memory_index(osv.read_records(OSV_DIR))
    found = {(f["id"], f["name"]) for f in matching.find(packages, index)}
    assert ("GO-2026-0002", "example.com/scanme/dep") in found


def test_old_go_build_info_pointing_outside_the_file_is_not_read():
    data = bytearray(_pre118_binary("go1.17.13", "path\tx\n"))
    at = data.find(gobinary.MAGIC)
    data[at + 16 : at + 24] = (0xDEAD0000).to_bytes(8, "little")  # no segment maps it
    assert gobinary.read_build_info(bytes(data)) is None


@pytest.mark.skipif(shutil.which("go") is None, reason="no go toolchain on this machine")
def test_a_binary_built_by_go_is_read(tmp_path):
    """A real binary: a main module with a vendored dependency at a known version (no
    network: -mod=vendor, GOPROXY=off), read back and matched against GO-2026-0002."""
    dep = tmp_path / "vendor" / "example.com" / "scanme" / "dep"
    dep.mkdir(parents=True)
    (dep / "dep.go").write_text('package dep\n\nfunc Hello() string { return "hi" }\n')
    (tmp_path / "vendor" / "modules.txt").write_text(
        "# example.com/scanme/dep v1.2.0\n## explicit\nexample.com/scanme/dep\n"
    )
    (tmp_path / "go.mod").write_text(
        "module example.com/scanme\n\ngo 1.18\n\nrequire example.com/scanme/dep v1.2.0\n"
    )
    (tmp_path / "main.go").write_text(
        'package main\n\nimport "example.com/scanme/dep"\n\nfunc main() { println(dep.Hello()) }\n'
    )
    env = {
        "HOME": str(tmp_path),
        "GOPATH": str(tmp_path / "gopath"),
        "GOCACHE": str(tmp_path / "cache"),
        "GOFLAGS": "-mod=vendor",
        "GOPROXY": "off",
        "CGO_ENABLED": "0",
        "PATH": "/usr/bin:/bin",
    }
    subprocess.run(["go", "build", "-o", "scanme", "."], cwd=tmp_path, env=env, check=True)
    version = subprocess.run(
        ["go", "env", "GOVERSION"], env=env, capture_output=True, text=True, check=True
    ).stdout.strip()
    data = (tmp_path / "scanme").read_bytes()
    info = gobinary.read_build_info(data)
    assert info is not None and info.go_version == version and info.path == "example.com/scanme"
    assert [(m.path, m.version) for m in info.deps] == [("example.com/scanme/dep", "v1.2.0")]
    layer = files_layer({"usr/bin/scanme": data}, executable=("usr/bin/scanme",))
    packages = inventory.packages(_fs(layer))
    assert {(p["name"], p["version"]) for p in packages} == {
        ("stdlib", version.removeprefix("go")),
        ("example.com/scanme/dep", "v1.2.0"),
    }
    index = vulndb.memory_index(osv.read_records(OSV_DIR))
    found = {(f["id"], f["name"], f["fix_version"]) for f in matching.find(packages, index)}
    assert found == {
        ("GO-2026-0001", "stdlib", "99.0.0"),
        ("GO-2026-0002", "example.com/scanme/dep", "1.5.0"),
    }


def _packages():
    return inventory.packages(_fs(*debian_image_layers()))


ARTIFACT = {
    "repository": "demo/app",
    "digest": "sha256:" + "a" * 64,
    "mime_type": "application/vnd.oci.image.manifest.v1+json",
}


def test_cyclonedx_sbom_is_valid_and_lists_every_package():
    from cyclonedx.schema import SchemaVersion
    from cyclonedx.validation.json import JsonStrictValidator

    document = sbom.cyclonedx(ARTIFACT, _packages())
    assert JsonStrictValidator(SchemaVersion.V1_5).validate_str(json.dumps(document)) is None
    assert {(c["name"], c["version"]) for c in document["components"]} == DEBIAN_PACKAGES
    assert document["metadata"]["component"]["type"] == "container"


def test_spdx_sbom_is_valid_and_lists_every_package():
    from spdx_tools.spdx.parser.jsonlikedict.json_like_dict_parser import JsonLikeDictParser
    from spdx_tools.spdx.validation.document_validator import validate_full_spdx_document

    document = sbom.spdx(ARTIFACT, _packages(), datetime.now(UTC))
    parsed = JsonLikeDictParser().parse(json.loads(json.dumps(document)))
    assert validate_full_spdx_document(parsed) == []
    names = {(p["name"], p.get("versionInfo")) for p in document["packages"]}
    assert names > DEBIAN_PACKAGES
    assert len(document["packages"]) == len(DEBIAN_PACKAGES) + 1  # and the image


def test_zstd_layers_and_hard_links_are_read():
    import gzip
    import tarfile

    import zstandard

    raw = gzip.decompress(files_layer({f"{SITE}/a-1.0.dist-info/METADATA": dist_info("a", "1.0")}))
    assert _names(_fs(zstandard.ZstdCompressor().compress(raw))) == {("a", "1.0")}
    # a hard link to an analysed file in the same layer is the same distribution
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        data = dist_info("b", "2.0")
        info = tarfile.TarInfo(f"{SITE}/b-2.0.dist-info/METADATA")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo(f"{SITE}/c-2.0.dist-info/METADATA")
        link.type = tarfile.LNKTYPE
        link.linkname = f"{SITE}/b-2.0.dist-info/METADATA"
        tar.addfile(link)
    files = _fs(buffer.getvalue())
    assert set(files) == {f"{SITE}/b-2.0.dist-info/METADATA", f"{SITE}/c-2.0.dist-info/METADATA"}
