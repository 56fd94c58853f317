"""What the scanner reads in a file system, and the packages it finds there.

    kind_of(path, executable)   which analyser a layer member needs (None: not read)
    analyze(kind, path, data)   that file, parsed into JSON the layer cache stores
    packages(files)             the packages of a composed file system (layers.compose)

Package databases: dpkg (`var/lib/dpkg/status` and distroless `var/lib/dpkg/status.d/*`,
read with python-debian's deb822 parser), apk (`lib/apk/db/installed`, apk's one-letter
field format), Python distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO` and the
single-file `*.egg-info`, email headers as the core metadata spec says), npm packages
(`package.json` directly under a `node_modules` directory, scoped or not) and Go binaries
(ELF executables carrying Go's build info, scanner.gobinary) and RPM databases
(`var/lib/rpm` or `usr/lib/sysimage/rpm`: `rpmdb.sqlite`, BerkeleyDB `Packages`, NDB
`Packages.db`), read by the system's `rpm` tool (librpm, deploy/install-system.sh) from a
private copy of the database file, never parsed by hand.
"""

from __future__ import annotations

import email.parser
import functools
import io
import json
import os
import posixpath
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from typing import Any

from debian.deb822 import Deb822

from harbor_py.core import env
from scanner import gobinary
from scanner.osv import normalize_name

OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_DIR = "var/lib/dpkg/status.d"
APK_INSTALLED = "lib/apk/db/installed"
RPMDB_DIRS = ("var/lib/rpm", "usr/lib/sysimage/rpm")
# The database file of each rpmdb backend, and the backend's name for librpm.
RPMDB_FILES = {"rpmdb.sqlite": "sqlite", "Packages": "bdb_ro", "Packages.db": "ndb"}
RPM_TIMEOUT_SECONDS = 120
# NAME, EPOCH (empty when none), VERSION, RELEASE, ARCH, SOURCERPM, LICENSE: one line each.
RPM_QUERY = (
    "%{NAME}\\t%|EPOCH?{%{EPOCH}}:{}|\\t%{VERSION}\\t%{RELEASE}\\t%{ARCH}\\t"
    "%{SOURCERPM}\\t%{LICENSE}\\n"
)


class ToolMissing(RuntimeError):
    """A database the scanner must read with a system tool that is not installed: the scan
    fails with this message rather than report (and cache) an empty inventory."""


def kind_of(path: str, *, executable: bool) -> str | None:
    directory, base = posixpath.split(path)
    if path in OS_RELEASE:
        return "os-release"
    if path == DPKG_STATUS:
        return "dpkg"
    if directory == DPKG_STATUS_DIR and not base.endswith(".md5sums"):
        return "dpkg"
    if path == APK_INSTALLED:
        return "apk"
    if directory in RPMDB_DIRS and base in RPMDB_FILES:
        return "rpm-" + RPMDB_FILES[base]
    if (base == "METADATA" and directory.endswith(".dist-info")) or (
        base == "PKG-INFO" and directory.endswith(".egg-info")
    ):
        return "python"
    if base.endswith(".egg-info"):  # the single-file form distutils wrote
        return "python"
    if base == "package.json" and _npm_package_dir(directory):
        return "npm"
    if executable:
        return "binary"
    return None


def _npm_package_dir(directory: str) -> bool:
    parent, name = posixpath.split(directory)
    if not name:
        return False
    if posixpath.basename(parent) == "node_modules":
        return not name.startswith(("@", "."))
    grand, scope = posixpath.split(parent)
    return scope.startswith("@") and posixpath.basename(grand) == "node_modules"


def analyze(kind: str, path: str, data: bytes) -> Any:
    try:
        return _ANALYSERS[kind](data)
    except (ValueError, UnicodeDecodeError, KeyError, TypeError):
        return None  # an unreadable database hides what the lower layers had, finds nothing


def _os_release(data: bytes) -> dict[str, Any]:
    values = {}
    for line in data.decode("utf-8", "replace").splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and key and not key.startswith("#"):
            values[key] = value.strip().strip("\"'")
    return {"os-release": values}


def _dpkg(data: bytes) -> dict[str, Any]:
    found = []
    text = data.decode("utf-8", "replace")
    for paragraph in Deb822.iter_paragraphs(io.StringIO(text), use_apt_pkg=False):
        name = paragraph.get("Package")
        version = paragraph.get("Version")
        if not name or not version:
            continue
        status = paragraph.get("Status")
        if status is not None and not status.endswith(" installed"):
            continue  # removed, config-files, half-installed
        source = paragraph.get("Source", "").strip()
        source_name, _, source_version = source.partition(" ")
        found.append(
            {
                "type": "deb",
                "name": name,
                "version": version,
                "match_name": source_name or name,
                "match_version": source_version.strip("()") or version,
                "arch": paragraph.get("Architecture", ""),
            }
        )
    return {"packages": found}


def _apk(data: bytes) -> dict[str, Any]:
    found = []
    for block in data.decode("utf-8", "replace").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if len(line) > 2 and line[1] == ":":
                fields.setdefault(line[0], line[2:])
        if "P" in fields and "V" in fields:
            found.append(
                {
                    "type": "apk",
                    "name": fields["P"],
                    "version": fields["V"],
                    "match_name": fields.get("o") or fields["P"],
                    "match_version": fields["V"],
                    "arch": fields.get("A", ""),
                    "license": fields.get("L", ""),
                }
            )
    return {"packages": found}


def _python(data: bytes) -> dict[str, Any]:
    text = data.decode("utf-8", "replace")
    headers = email.parser.HeaderParser().parsestr(text.split("\n\n", 1)[0])
    name, version = headers.get("Name"), headers.get("Version")
    if not name or not version:
        return {"packages": []}
    package = {
        "type": "pypi",
        "name": str(name),
        "version": str(version),
        "match_name": str(name),
        "match_version": str(version),
        "license": str(headers.get("License") or ""),
    }
    return {"packages": [package]}


def _npm(data: bytes) -> dict[str, Any]:
    doc = json.loads(data)
    name, version = doc.get("name"), doc.get("version")
    if not isinstance(name, str) or not isinstance(version, str):
        return {"packages": []}
    license_ = doc.get("license")
    package = {
        "type": "npm",
        "name": name,
        "version": version,
        "match_name": name,
        "match_version": version,
        "license": license_ if isinstance(license_, str) else "",
    }
    return {"packages": [package]}


def rpm_tool() -> str:
    found = shutil.which("rpm")
    if found is None:
        raise ToolMissing(
            "this image has an RPM database and the rpm tool is not installed "
            "(deploy/install-system.sh run installs Debian's rpm)"
        )
    return found


def _rpm(backend: str, data: bytes) -> dict[str, Any]:
    """The installed packages of an rpmdb file, as librpm reads them: the file is written to
    a private directory that `rpm --dbpath` opens with the backend its name says."""
    filename = next(name for name, known in RPMDB_FILES.items() if known == backend)
    tool = rpm_tool()
    with tempfile.TemporaryDirectory(prefix="harbor-rpmdb-") as directory:
        with open(os.path.join(directory, filename), "wb") as file:
            file.write(data)
        try:
            done = subprocess.run(
                [
                    tool,
                    "--dbpath",
                    directory,
                    "--define",
                    f"_db_backend {backend}",
                    "-qa",
                    "--queryformat",
                    RPM_QUERY,
                ],
                capture_output=True,
                timeout=RPM_TIMEOUT_SECONDS,
                env={"PATH": env.get("PATH", ""), "HOME": directory, "LC_ALL": "C"},
                check=False,
            )
        except subprocess.TimeoutExpired as exc:
            raise ValueError(f"rpm did not read the database in {RPM_TIMEOUT_SECONDS} s") from exc
    errors = done.stderr.decode("utf-8", "replace")
    # A backend this librpm was built without falls back to a dummy, empty database with
    # a warning and exit status 0 (Debian's has no NDB): that is no inventory, not "none".
    if done.returncode != 0 or "dummy database" in errors:
        raise ValueError(f"rpm cannot read the database: {errors.strip()}")
    found = []
    for line in done.stdout.decode("utf-8", "replace").splitlines():
        fields = line.split("\t", 6)
        if len(fields) != 7:
            continue
        name, epoch, version, release, arch, source_rpm, license_ = fields
        if name == "gpg-pubkey":  # the keyring's pseudo-packages
            continue
        full = f"{version}-{release}"
        found.append(
            {
                "type": "rpm",
                "name": name,
                "version": f"{epoch}:{full}" if epoch else full,
                "match_name": name,
                "match_version": f"{epoch}:{full}" if epoch else full,
                "epoch": epoch,
                "arch": "" if arch == "(none)" else arch,
                "source_rpm": "" if source_rpm == "(none)" else source_rpm,
                "license": "" if license_ == "(none)" else license_,
            }
        )
    return {"packages": found}


def _binary(data: bytes) -> dict[str, Any] | None:
    info = gobinary.read_build_info(data)
    if info is None:
        return None
    found = [
        {
            "type": "golang",
            "name": "stdlib",
            "version": info.go_version.removeprefix("go"),
            "match_name": "stdlib",
            "match_version": info.go_version.removeprefix("go"),
        }
    ]
    for module in [info.main, *info.deps]:
        if module is None or not module.version or module.version == "(devel)":
            continue
        found.append(
            {
                "type": "golang",
                "name": module.path,
                "version": module.version,
                "match_name": module.path,
                "match_version": module.version.removeprefix("v"),
            }
        )
    return {"packages": found}


_ANALYSERS: dict[str, Callable[[bytes], Any]] = {
    "os-release": _os_release,
    "dpkg": _dpkg,
    "apk": _apk,
    "python": _python,
    "npm": _npm,
    "binary": _binary,
    **{f"rpm-{backend}": functools.partial(_rpm, backend) for backend in RPMDB_FILES.values()},
}

_ECOSYSTEM_OF_TYPE = {"apk": "Alpine", "pypi": "PyPI", "npm": "npm", "golang": "Go"}
_PURL_TYPE = {
    "deb": "deb",
    "apk": "apk",
    "pypi": "pypi",
    "npm": "npm",
    "golang": "golang",
    "rpm": "rpm",
}
# os-release ID -> the OSV ecosystem of its RPM packages and whether the release is the
# major version (Red Hat, AlmaLinux, Rocky Linux) or "Leap 15.5" (openSUSE Leap).
_RPM_ECOSYSTEMS = {
    "rhel": "Red Hat",
    "centos": "Red Hat",
    "almalinux": "AlmaLinux",
    "rocky": "Rocky Linux",
    "opensuse-leap": "openSUSE",
    "opensuse-tumbleweed": "openSUSE",
    "sles": "SUSE",
    "sled": "SUSE",
}
# The package URL namespace of each (purl-spec's rpm type names the vendor).
_RPM_NAMESPACES = {
    "Red Hat": "redhat",
    "AlmaLinux": "almalinux",
    "Rocky Linux": "rocky",
    "openSUSE": "opensuse",
    "SUSE": "suse",
}


def operating_system(files: dict[str, Any]) -> dict[str, str]:
    for path in OS_RELEASE:
        analysis = files.get(path)
        if analysis and "os-release" in analysis:
            return dict(analysis["os-release"])
    return {}


def _ecosystem(kind: str, os_release: dict[str, str]) -> tuple[str, str]:
    """The OSV ecosystem a package is matched in and its release: dpkg packages on Debian
    12 -> ("Debian", "12"), on Ubuntu 22.04 -> ("Ubuntu", "22.04"); apk packages on Alpine
    3.19.1 -> ("Alpine", "v3.19"). A release the image does not name is "" (any)."""
    ident = os_release.get("ID", "").lower()
    version = os_release.get("VERSION_ID", "")
    if kind == "deb":
        ecosystem = "Ubuntu" if ident == "ubuntu" else "Debian"
        if ident not in ("debian", "ubuntu") or not version:
            return ecosystem, ""
        return ecosystem, version if ident == "ubuntu" else version.split(".")[0]
    if kind == "apk":
        if ident != "alpine" or not version:
            return "Alpine", ""
        return "Alpine", "v" + ".".join(version.split(".")[:2])
    if kind == "rpm":
        return _rpm_ecosystem(ident, version)
    return _ECOSYSTEM_OF_TYPE[kind], ""


def _rpm_ecosystem(ident: str, version: str) -> tuple[str, str]:
    """RPM packages on RHEL or CentOS 9.3 -> ("Red Hat", "9") (OSV's `Red
    Hat:enterprise_linux:9::appstream` is stored as release 9), AlmaLinux 9.3 ->
    ("AlmaLinux", "9"), Rocky Linux -> ("Rocky Linux", "9"), openSUSE Leap 15.5 ->
    ("openSUSE", "Leap 15.5"), Tumbleweed -> ("openSUSE", "Tumbleweed"); SUSE Linux
    Enterprise -> ("SUSE", ""): its records name products and service packs ("Linux
    Enterprise Server 15 SP5", "... Module for Basesystem 15 SP5") that os-release does not,
    so any SUSE record of the package applies. Another RPM distribution (Fedora, Amazon
    Linux: no OSV ecosystem) -> ("RPM", ""), listed in the SBOM and matched by nothing."""
    ecosystem = _RPM_ECOSYSTEMS.get(ident, "RPM")
    if not version or ecosystem in ("SUSE", "RPM"):
        return ecosystem, ""
    if ident == "opensuse-leap":
        return ecosystem, f"Leap {version}"
    if ident == "opensuse-tumbleweed":
        return ecosystem, "Tumbleweed"
    return ecosystem, version.split(".")[0]


def packages(
    files: dict[str, Any], os_release: dict[str, str] | None = None
) -> list[dict[str, Any]]:
    """Every package of a composed file system (or of one layer's files, with the image's
    `os_release`), with the OSV ecosystem and release it is matched in, its normalized
    name and its package URL."""
    if os_release is None:
        os_release = operating_system(files)
    found = []
    for path in sorted(files):
        analysis = files[path]
        for package in (analysis or {}).get("packages", []):
            kind = package["type"]
            ecosystem, release = _ecosystem(kind, os_release)
            namespace = ecosystem.lower() if kind in ("deb", "apk") else ""
            if kind == "rpm":
                namespace = _RPM_NAMESPACES.get(ecosystem, "")
            found.append(
                {
                    **package,
                    "path": path,
                    "ecosystem": ecosystem,
                    "release": release,
                    "key": normalize_name(ecosystem, package["match_name"]),
                    "purl": _purl(_PURL_TYPE[kind], namespace, package),
                }
            )
    return found


def _purl(kind: str, namespace: str, package: dict[str, Any]) -> str:
    from packageurl import PackageURL

    name = package["name"]
    ns = namespace or None
    if kind == "npm" and name.startswith("@") and "/" in name:
        ns, name = name.split("/", 1)
    elif kind == "golang" and "/" in name:
        ns, name = name.rsplit("/", 1)
    version = package["version"]
    qualifiers = {"arch": package["arch"]} if package.get("arch") else {}
    if kind == "rpm":  # purl-spec: the version is VERSION-RELEASE, the epoch a qualifier
        version = version.split(":", 1)[-1]
        if package.get("epoch"):
            qualifiers["epoch"] = package["epoch"]
    return str(PackageURL(kind, ns, name, version, qualifiers or None))
