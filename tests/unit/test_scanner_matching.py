"""The built-in scanner's version rules and OSV matching (scanner.osv, scanner.versions,
scanner.matching) on the OSV records shipped in tests/scanner_data/osv/."""

from __future__ import annotations

import pytest

from scanner import inventory, layers, matching, osv, vulndb
from tests.scanner_images import (
    ALMA_FINDINGS,
    ALPINE_FINDINGS,
    CENTOS_FINDINGS,
    DEBIAN_FINDINGS,
    OSV_DIR,
    OSV_RPM_DIR,
    alma_image_layers,
    alpine_image_layers,
    centos_image_layers,
    debian_image_layers,
)


def _affected(ecosystem: str, events: list[dict], versions: list[str] | None = None):
    return osv.Affected(
        ecosystem, "", "x", [{"type": "ECOSYSTEM", "events": events}], versions or []
    )


@pytest.mark.parametrize(
    ("ecosystem", "events", "version", "expected"),
    [
        # Debian: epochs outrank the upstream version; a tilde sorts before anything
        ("Debian", [{"introduced": "0"}, {"fixed": "2.5-1"}], "1:2.0-1", (False, "")),
        ("Debian", [{"introduced": "0"}, {"fixed": "1:2.1-1"}], "1:2.0-1", (True, "1:2.1-1")),
        ("Debian", [{"introduced": "0"}, {"fixed": "1.0-1"}], "1.0~rc1-1", (True, "1.0-1")),
        (
            "Debian",
            [{"introduced": "0"}, {"fixed": "3.0-1~deb12u2"}],
            "3.0-1~deb12u1",
            (True, "3.0-1~deb12u2"),
        ),
        ("Debian", [{"introduced": "0"}, {"fixed": "3.0-1~deb12u2"}], "3.0-1", (False, "")),
        # Alpine: the -rN revision compares as a number
        ("Alpine", [{"introduced": "0"}, {"fixed": "1.2.4-r10"}], "1.2.4-r9", (True, "1.2.4-r10")),
        ("Alpine", [{"introduced": "0"}, {"fixed": "1.2.4-r10"}], "1.2.4-r10", (False, "")),
        ("Alpine", [{"introduced": "0"}, {"fixed": "1.2.4-r10"}], "1.2.4-r11", (False, "")),
        # PyPI: pre-releases sort before their release
        ("PyPI", [{"introduced": "4.2.0"}, {"fixed": "4.2.5"}], "4.2.0rc1", (False, "")),
        ("PyPI", [{"introduced": "4.2.0a1"}, {"fixed": "4.2.0"}], "4.2.0rc1", (True, "4.2.0")),
        ("PyPI", [{"introduced": "0"}, {"fixed": "1.10"}], "1.9", (True, "1.10")),
        ("PyPI", [{"introduced": "0"}, {"fixed": "1.0"}], "1.0.post1", (False, "")),
        # several intervals in one range
        (
            "PyPI",
            [{"introduced": "0"}, {"fixed": "5.1"}, {"introduced": "5.3"}, {"fixed": "5.4"}],
            "5.3.1",
            (True, "5.4"),
        ),
        (
            "PyPI",
            [{"introduced": "0"}, {"fixed": "5.1"}, {"introduced": "5.3"}, {"fixed": "5.4"}],
            "5.2",
            (False, ""),
        ),
        (
            "PyPI",
            [{"introduced": "0"}, {"fixed": "5.1"}, {"introduced": "5.3"}, {"fixed": "5.4"}],
            "5.0",
            (True, "5.1"),
        ),
        # events out of order are sorted first
        (
            "PyPI",
            [{"fixed": "5.4"}, {"introduced": "5.3"}, {"fixed": "5.1"}, {"introduced": "0"}],
            "5.3.1",
            (True, "5.4"),
        ),
        # last_affected includes its version; limit bounds the range
        ("npm", [{"introduced": "0"}, {"last_affected": "4.17.1"}], "4.17.1", (True, "")),
        ("npm", [{"introduced": "0"}, {"last_affected": "4.17.20"}], "4.17.21", (False, "")),
        ("npm", [{"introduced": "1.0.0"}, {"limit": "2.0.0"}], "2.1.0", (False, "")),
        ("npm", [{"introduced": "1.0.0"}, {"limit": "2.0.0"}], "1.5.0", (True, "")),
        ("npm", [{"introduced": "0"}, {"fixed": "1.0.0"}], "1.0.0-beta.2", (True, "1.0.0")),
        ("Go", [{"introduced": "0"}, {"fixed": "1.21.5"}], "1.21.10", (False, "")),
        ("Go", [{"introduced": "0"}, {"fixed": "1.21.10"}], "1.21.5", (True, "1.21.10")),
        # a version the ecosystem cannot read is never matched
        ("PyPI", [{"introduced": "0"}], "not a version!", (False, "")),
    ],
)
def test_ranges_by_each_ecosystems_rules(ecosystem, events, version, expected):
    assert osv.affects(_affected(ecosystem, events), version) == expected


def test_an_explicit_versions_list_matches_without_ranges():
    affected = osv.Affected("PyPI", "", "x", [], ["0.9", "1.0"])
    assert osv.affects(affected, "0.9") == (True, "")
    assert osv.affects(affected, "0.9.1") == (False, "")


def test_severity_from_cvss_or_the_databases_word():
    record = osv.parse_record(
        {
            "id": "X-1",
            "severity": [
                {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}
            ],
        }
    )
    assert (record.severity, record.cvss_score) == ("Critical", 9.8)
    assert (
        osv.parse_record({"id": "X-2", "database_specific": {"severity": "MODERATE"}}).severity
        == "Medium"
    )
    assert osv.parse_record({"id": "X-3"}).severity == "Unknown"


def test_ecosystem_release_split_and_name_normalization():
    assert osv.split_ecosystem("Debian:12") == ("Debian", "12")
    assert osv.split_ecosystem("Ubuntu:22.04:LTS") == ("Ubuntu", "22.04")
    assert osv.split_ecosystem("PyPI") == ("PyPI", "")
    assert osv.split_ecosystem("Red Hat:enterprise_linux:9::appstream") == ("Red Hat", "9")
    assert osv.split_ecosystem("Red Hat:rhel_eus:9.2::baseos") == ("Red Hat", "9")
    assert osv.split_ecosystem("AlmaLinux:9") == ("AlmaLinux", "9")
    assert osv.split_ecosystem("openSUSE:Leap 15.5") == ("openSUSE", "Leap 15.5")
    assert osv.normalize_name("PyPI", "Legacy_Pkg") == "legacy-pkg"


def _scan(image_layers, directory=OSV_DIR):
    analyses = []
    for data in image_layers:
        import io

        analyses.append(layers.analyze_layer(io.BytesIO(data)))
    packages = inventory.packages(layers.compose(analyses))
    index = vulndb.memory_index(osv.read_records(directory))
    found = matching.find(packages, index)
    return {(f["id"], f["name"], f["version"], f["fix_version"], f["severity"]) for f in found}


def test_the_shipped_records_find_exactly_the_expected_debian_findings():
    """Tilde, epoch, release, removed package, status.d, withdrawn record, pre-releases,
    several events, versions list, last_affected, scoped npm, whiteout, opaque directory."""
    assert _scan(debian_image_layers()) == DEBIAN_FINDINGS


def test_the_shipped_records_find_exactly_the_expected_alpine_findings():
    assert _scan(alpine_image_layers()) == ALPINE_FINDINGS


def test_the_shipped_records_find_exactly_the_expected_rpm_findings_sqlite():
    """A real rpmdb.sqlite (rpmbuild, rpm --justdb) read by librpm: epochs, a fixed version
    installed, el9 < el9_3.2, a tilde, records of another release or ecosystem."""
    assert _scan(alma_image_layers(), OSV_RPM_DIR) == ALMA_FINDINGS


def test_the_shipped_records_find_exactly_the_expected_rpm_findings_bdb():
    """A BerkeleyDB Packages (CentOS 7), read by librpm's read-only BDB backend; CentOS is
    matched against Red Hat's records of its major release."""
    assert _scan(centos_image_layers(), OSV_RPM_DIR) == CENTOS_FINDINGS


def test_rpm_packages_carry_their_ecosystem_release_and_package_url():
    import io

    analyses = [layers.analyze_layer(io.BytesIO(data)) for data in alma_image_layers()]
    found = {p["name"]: p for p in inventory.packages(layers.compose(analyses))}
    assert set(found) == {"openssl-libs", "bash", "curl", "glibc", "libxml2"}
    openssl = found["openssl-libs"]
    assert (openssl["ecosystem"], openssl["release"], openssl["version"]) == (
        "AlmaLinux",
        "9",
        "1:3.0.7-24.el9",
    )
    assert openssl["purl"] == "pkg:rpm/almalinux/openssl-libs@3.0.7-24.el9?arch=noarch&epoch=1"
    assert openssl["source_rpm"] == "openssl-libs-3.0.7-24.el9.src.rpm"


@pytest.mark.parametrize(
    ("ident", "version_id", "expected"),
    [
        ("rhel", "9.3", ("Red Hat", "9")),
        ("centos", "7", ("Red Hat", "7")),
        ("rocky", "8.9", ("Rocky Linux", "8")),
        ("opensuse-leap", "15.5", ("openSUSE", "Leap 15.5")),
        ("sles", "15.5", ("SUSE", "")),
        ("fedora", "39", ("RPM", "")),
    ],
)
def test_rpm_ecosystem_of_each_distribution(ident, version_id, expected):
    assert inventory._ecosystem("rpm", {"ID": ident, "VERSION_ID": version_id}) == expected


def test_an_rpmdb_librpm_cannot_read_hides_the_lower_layers_database():
    assert inventory.analyze("rpm-sqlite", "var/lib/rpm/rpmdb.sqlite", b"not sqlite") is None
    # Debian's librpm has no NDB backend: its empty "dummy database" is no inventory either
    assert inventory.analyze("rpm-ndb", "var/lib/rpm/Packages.db", b"junk") is None


@pytest.mark.parametrize(
    ("left", "right"),
    [
        ("1:1.0-1", "2.0-1"),
        ("1.0~rc1-1", "1.0-1"),
        ("1.0-1.el9", "1.0-1.el9_3"),
        ("2.01-1", "2.1-1"),
        ("1.0-1", "1.0a-1"),
        ("1.0^git1-1", "1.0-1"),
        ("3.0.7-24.el9", "0:3.0.7-24.el9"),
    ],
)
def test_rpm_versions_order_as_rpmvercmp_does(left, right):
    """univers' RpmVersion against librpm's own rpm.vercmp (the tool's Lua), case by case."""
    import subprocess

    from scanner import versions

    lua = f'%{{lua: print(rpm.vercmp("{left}", "{right}"))}}'
    expected = int(subprocess.run(["rpm", "--eval", lua], capture_output=True, text=True,
                                  check=True).stdout)  # fmt: skip
    a, b = versions.parse("AlmaLinux", left), versions.parse("AlmaLinux", right)
    assert (a > b) - (a < b) == expected


def test_osv_exports_read_from_a_zip_as_from_a_directory(tmp_path):
    import zipfile

    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(OSV_DIR.glob("*.json")):
            out.write(path, path.name)
    from_zip = sorted(r["id"] for r in osv.read_records(archive))
    assert from_zip == sorted(r["id"] for r in osv.read_records(OSV_DIR))
    assert len(from_zip) == 23
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"bad\.json: not JSON"):
        list(osv.read_records(tmp_path / "bad.json"))
