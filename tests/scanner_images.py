"""Images with real package databases for the built-in scanner's tests and benchmark, the
OSV records shipped with them (tests/scanner_data/osv/) and what the scanner must find.

    layers = debian_image_layers()          # gzipped tars, lowest first
    push_image_layers(url, "demo/app", "v1", layers, authorization)  -> manifest digest
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import httpx

from tests.imagegen import OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST, files_layer

OSV_DIR = Path(__file__).parent / "scanner_data" / "osv"

DEBIAN_OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n'
ALPINE_OS_RELEASE = b'NAME="Alpine Linux"\nID=alpine\nVERSION_ID=3.19.1\n'


def dpkg_entry(name: str, version: str, *, source: str = "", status: str = "") -> str:
    lines = [f"Package: {name}"]
    lines.append(f"Status: {status or 'install ok installed'}")
    lines.append("Architecture: amd64")
    if source:
        lines.append(f"Source: {source}")
    lines.append(f"Version: {version}")
    lines.append(f"Description: {name} for the scanner's tests")
    return "\n".join(lines) + "\n"


def dist_info(name: str, version: str) -> bytes:
    return f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nlong text\n".encode()


def npm_package(name: str, version: str) -> bytes:
    return json.dumps({"name": name, "version": version, "license": "MIT"}).encode()


SITE = "usr/lib/python3/dist-packages"
APP = "srv/app/node_modules"


def debian_image_layers() -> list[bytes]:
    """Debian 12: a dpkg status, a distroless status.d entry, Python distributions and npm
    packages; the top layer deletes a distribution (whiteout) and hides a node_modules
    directory (opaque) of the layer below."""
    status = "\n".join(
        [
            dpkg_entry("libssl3", "3.0.11-1~deb12u1", source="openssl"),
            dpkg_entry("tzdata", "2024a-0+deb12u1"),
            dpkg_entry("epochpkg", "1:2.0-1"),
            dpkg_entry("removedpkg", "1.0-1", status="deinstall ok config-files"),
        ]
    )
    base = files_layer(
        {
            "etc/os-release": DEBIAN_OS_RELEASE,
            "var/lib/dpkg/status": status.encode(),
            "var/lib/dpkg/status.d/zlib1g": dpkg_entry(
                "zlib1g", "1:1.2.13.dfsg-1", source="zlib"
            ).encode(),
            "var/lib/dpkg/status.d/zlib1g.md5sums": b"0123 usr/lib/libz.so\n",
            f"{SITE}/oldlib-1.0.dist-info/METADATA": dist_info("oldlib", "1.0"),
            f"{APP}/left-pad/package.json": npm_package("left-pad", "1.3.0"),
        }
    )
    python = files_layer(
        {
            f"{SITE}/requests-2.31.0.dist-info/METADATA": dist_info("requests", "2.31.0"),
            f"{SITE}/Django-4.2.0rc1.dist-info/METADATA": dist_info("Django", "4.2.0rc1"),
            f"{SITE}/PyYAML-5.3.1.egg-info/PKG-INFO": dist_info("PyYAML", "5.3.1"),
            f"{SITE}/Legacy_Pkg-0.9.egg-info": dist_info("Legacy_Pkg", "0.9"),
        }
    )
    top = files_layer(
        {
            f"{APP}/express/package.json": npm_package("express", "4.17.1"),
            f"{APP}/express/lib/package.json": npm_package("not-a-package", "0.0.1"),
            f"{APP}/lodash/package.json": npm_package("lodash", "4.17.21"),
            f"{APP}/@babel/traverse/package.json": npm_package("@babel/traverse", "7.22.0"),
        },
        whiteouts=(f"{SITE}/oldlib-1.0.dist-info",),
        opaque=(APP,),
    )
    return [base, python, top]


# (advisory id, package, installed version, fix version, severity)
DEBIAN_FINDINGS = {
    ("DSA-0001-1", "libssl3", "3.0.11-1~deb12u1", "3.0.11-1~deb12u2", "Critical"),
    ("DSA-0003-1", "epochpkg", "1:2.0-1", "1:2.1-1", "Medium"),
    ("DSA-0006-1", "zlib1g", "1:1.2.13.dfsg-1", "1:1.2.13.dfsg-1+deb12u1", "Low"),
    ("GHSA-req1-0001-0001", "requests", "2.31.0", "2.32.0", "Medium"),
    ("GHSA-dj02-0002-0002", "Django", "4.2.0rc1", "4.2.0", "Low"),
    ("GHSA-yaml-0001-0001", "PyYAML", "5.3.1", "5.4", "Critical"),
    ("PYSEC-0001", "Legacy_Pkg", "0.9", "", "Medium"),
    ("GHSA-expr-0001-0001", "express", "4.17.1", "", "Medium"),
    ("GHSA-babl-0001-0001", "@babel/traverse", "7.22.0", "7.23.2", "Critical"),
}

DEBIAN_PACKAGES = {
    ("libssl3", "3.0.11-1~deb12u1"),
    ("tzdata", "2024a-0+deb12u1"),
    ("epochpkg", "1:2.0-1"),
    ("zlib1g", "1:1.2.13.dfsg-1"),
    ("requests", "2.31.0"),
    ("Django", "4.2.0rc1"),
    ("PyYAML", "5.3.1"),
    ("Legacy_Pkg", "0.9"),
    ("express", "4.17.1"),
    ("lodash", "4.17.21"),
    ("@babel/traverse", "7.22.0"),
}


def alpine_image_layers() -> list[bytes]:
    installed = "\n".join(
        [
            "C:Q1abc=\nP:musl\nV:1.2.4-r9\nA:x86_64\no:musl\nL:MIT\n",
            "C:Q1def=\nP:libcrypto3\nV:3.1.4-r5\nA:x86_64\no:openssl\nL:Apache-2.0\n",
            "C:Q1ghi=\nP:busybox\nV:1.36.1-r15\nA:x86_64\no:busybox\nL:GPL-2.0-only\n",
        ]
    )
    return [
        files_layer(
            {"etc/os-release": ALPINE_OS_RELEASE, "lib/apk/db/installed": installed.encode()}
        )
    ]


ALPINE_FINDINGS = {("ALPINE-0001", "musl", "1.2.4-r9", "1.2.4-r10", "High")}


def findings_of(report: dict) -> set[tuple[str, str, str, str, str]]:
    return {
        (v["id"], v["package"], v["version"], v["fix_version"], v["severity"])
        for v in report["vulnerabilities"]
    }


def _upload(client: httpx.Client, repository: str, data: bytes) -> str:
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    if client.head(f"/v2/{repository}/blobs/{digest}").status_code == 200:
        return digest
    started = client.post(f"/v2/{repository}/blobs/uploads/")
    assert started.status_code == 202, started.text
    location = httpx.URL(started.headers["Location"])
    done = client.put(
        location.copy_merge_params({"digest": digest}),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    assert done.status_code == 201, done.text
    return digest


def push_image_layers(
    url: str, repository: str, tag: str, layers: list[bytes], authorization: str
) -> tuple[str, str]:
    """Push an image of these layers (monolithic uploads); (manifest digest, media type)."""
    import gzip

    with httpx.Client(base_url=url, headers={"Authorization": authorization}, timeout=60) as client:
        descriptors = [
            {"mediaType": OCI_LAYER_GZIP, "digest": _upload(client, repository, d), "size": len(d)}
            for d in layers
        ]
        config = {
            "architecture": "amd64",
            "os": "linux",
            "rootfs": {
                "type": "layers",
                "diff_ids": [
                    "sha256:" + hashlib.sha256(gzip.decompress(d)).hexdigest() for d in layers
                ],
            },
            "config": {"Labels": {"nonce": os.urandom(4).hex()}},
        }
        config_bytes = json.dumps(config).encode()
        manifest = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {
                "mediaType": OCI_CONFIG,
                "digest": _upload(client, repository, config_bytes),
                "size": len(config_bytes),
            },
            "layers": descriptors,
        }
        body = json.dumps(manifest).encode()
        response = client.put(
            f"/v2/{repository}/manifests/{tag}",
            content=body,
            headers={"Content-Type": OCI_MANIFEST},
        )
        assert response.status_code == 201, response.text
        return "sha256:" + hashlib.sha256(body).hexdigest(), OCI_MANIFEST


# --- RPM -----------------------------------------------------------------------------------

OSV_RPM_DIR = Path(__file__).parent / "scanner_data" / "osv-rpm"
ALMA_OS_RELEASE = b'NAME="AlmaLinux"\nID="almalinux"\nVERSION_ID="9.3"\n'
CENTOS_OS_RELEASE = b'NAME="CentOS Linux"\nID="centos"\nVERSION_ID="7"\n'

# (name, epoch, version, release): real .rpm files are built of these (rpmbuild) and
# installed with `rpm -i --justdb` into a fresh database.
ALMA_RPMS = (
    ("openssl-libs", "1", "3.0.7", "24.el9"),  # epoch: the fix is 1:3.0.7-25.el9_3
    ("bash", "", "5.1.8", "6.el9_1"),  # exactly the fixed version: not affected
    ("curl", "", "7.76.1", "26.el9"),  # el9 < el9_3.2
    ("glibc", "", "2.34", "60.el9"),  # records for AlmaLinux:8 and Rocky Linux:9 only
    ("libxml2", "", "2.9.13~rc1", "1.el9"),  # a tilde sorts before the release
)
ALMA_FINDINGS = {
    ("ALSA-0001", "openssl-libs", "1:3.0.7-24.el9", "1:3.0.7-25.el9_3", "High"),
    ("ALSA-0003", "curl", "7.76.1-26.el9", "7.76.1-26.el9_3.2", "Medium"),
    ("ALSA-0005", "libxml2", "2.9.13~rc1-1.el9", "2.9.13-1.el9", "Low"),
}
CENTOS_RPMS = (
    ("openssl-libs", "1", "1.0.2k", "25.el7_9"),
    ("zlib", "", "1.2.7", "21.el7_9"),  # the record is for Red Hat 8
)
CENTOS_FINDINGS = {
    ("RHSA-0001", "openssl-libs", "1:1.0.2k-25.el7_9", "1:1.0.2k-26.el7_9", "Critical"),
}


def _rpm_file(workdir: Path, name: str, epoch: str, version: str, release: str) -> Path:
    import subprocess

    spec = workdir / f"{name}.spec"
    lines = [f"Name: {name}"]
    if epoch:
        lines.append(f"Epoch: {epoch}")
    lines += [
        f"Version: {version}",
        f"Release: {release}",
        f"Summary: {name} for the scanner's tests",
        "License: MIT",
        "BuildArch: noarch",
        "%description",
        f"{name} for the scanner's tests",
        "%files",
    ]
    spec.write_text("\n".join(lines) + "\n")
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {workdir}/top",
         "--define", f"_rpmdir {workdir}/rpms", str(spec)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next((workdir / "rpms").rglob(f"{name}-{version}-{release}.noarch.rpm"))


def rpm_database(packages: tuple[tuple[str, str, str, str], ...], backend: str = "sqlite") -> bytes:
    """A real RPM database of these packages: .rpm files built by rpmbuild, installed by
    `rpm -i --justdb` into a database made by `rpm --initdb` (SQLite, librpm 4.18's
    default). backend "bdb": the same headers in a BerkeleyDB `Packages` hash made by
    db5.3_load (key: the header number, native order; key 0: the next number, as rpm's
    BDB backend keeps it), for the read-only BDB backend older images carry."""
    import sqlite3
    import struct
    import subprocess
    import tempfile

    with tempfile.TemporaryDirectory(prefix="rpmdb-test-") as tmp:
        workdir = Path(tmp)
        files = [str(_rpm_file(workdir, *package)) for package in packages]
        dbpath = workdir / "db"
        dbpath.mkdir()
        rpm = ["rpm", "--dbpath", str(dbpath), "--define", "_db_backend sqlite"]
        subprocess.run([*rpm, "--initdb"], check=True, capture_output=True)
        subprocess.run(
            [*rpm, "-i", "--justdb", "--nodeps", "--ignorearch", "--ignoreos", *files],
            check=True, capture_output=True,
        )  # fmt: skip
        if backend == "sqlite":
            return (dbpath / "rpmdb.sqlite").read_bytes()
        with sqlite3.connect(dbpath / "rpmdb.sqlite") as db:
            rows = db.execute("SELECT hnum, blob FROM Packages").fetchall()
        dump = ["VERSION=3", "format=bytevalue", "type=hash", "db_pagesize=4096", "HEADER=END"]
        for key, value in [(0, struct.pack("=I", max(h for h, _ in rows) + 1)), *rows]:
            dump += [" " + struct.pack("=I", key).hex(), " " + bytes(value).hex()]
        dump.append("DATA=END")
        (workdir / "dump.txt").write_text("\n".join(dump) + "\n")
        subprocess.run(
            ["db5.3_load", "-f", str(workdir / "dump.txt"), str(workdir / "Packages")],
            check=True, capture_output=True,
        )  # fmt: skip
        return (workdir / "Packages").read_bytes()


def alma_image_layers() -> list[bytes]:
    """AlmaLinux 9.3 with an rpmdb.sqlite (the path RHEL 9 images use, through the
    var/lib/rpm -> usr/lib/sysimage/rpm link of newer ones as well)."""
    return [
        files_layer(
            {
                "etc/os-release": ALMA_OS_RELEASE,
                "var/lib/rpm/rpmdb.sqlite": rpm_database(ALMA_RPMS),
            }
        )
    ]


def centos_image_layers() -> list[bytes]:
    """CentOS 7 with a BerkeleyDB rpmdb (var/lib/rpm/Packages), matched as Red Hat 7."""
    return [
        files_layer(
            {
                "etc/os-release": CENTOS_OS_RELEASE,
                "var/lib/rpm/Packages": rpm_database(CENTOS_RPMS, backend="bdb"),
            }
        )
    ]
