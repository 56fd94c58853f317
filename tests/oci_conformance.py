"""Build the OCI distribution-spec conformance suite from its source and run it, all four
workflow categories on, against a whole harbor-py instance (nginx, token auth, the gate,
distribution).

    python -m tests.oci_conformance SPEC_DIR [--module DIR ...] [--report DIR]

SPEC_DIR is a checkout of github.com/opencontainers/distribution-spec (tag v1.1.1); its
`conformance/` package is built with the machine's Go, never copied into this project.
With `--module` directories (one per Go module the suite needs that the machine lacks:
ginkgo v2, gomega, reggie at the versions of the suite's go.mod) it builds in GOPATH mode
beside Debian's Go packages (/usr/share/gocode: golang-github-*-dev), so no module proxy
is needed (`deploy/install-system.sh conformance` installs them); without them it builds
in module mode. Not part of `make test`: it needs the suite's source. docs/architecture.md
reports a run.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

from tests.stack import ADMIN_PASSWORD, running_instance

DEBIAN_GOPATH = "/usr/share/gocode"
SUITE_IMPORT_PATH = "github.com/opencontainers/distribution-spec/conformance"


def _module_path(directory: Path) -> str:
    match = re.search(r"^module\s+(\S+)", (directory / "go.mod").read_text(), re.MULTILINE)
    if match is None:
        raise SystemExit(f"{directory}/go.mod names no module")
    return match.group(1)


def build(spec_dir: Path, modules: list[Path], work: Path) -> Path:
    """The suite's test binary, built with `go test -c`."""
    suite = spec_dir / "conformance"
    if not (suite / "setup.go").is_file():
        raise SystemExit(f"{suite} is not the conformance suite's source")
    binary = work / "conformance.test"
    env = {**os.environ, "GOFLAGS": "", "GOCACHE": str(work / "gocache")}
    if modules:
        gopath = work / "gopath"
        for source in [suite, *modules]:
            import_path = SUITE_IMPORT_PATH if source == suite else _module_path(source)
            link = gopath / "src" / import_path
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(source.resolve())
        env.update(GO111MODULE="off", GOPROXY="off", GOPATH=f"{gopath}:{DEBIAN_GOPATH}")
        cwd = gopath / "src" / SUITE_IMPORT_PATH
    else:
        cwd = suite
    subprocess.run(["go", "test", "-c", "-o", str(binary), "."], cwd=cwd, env=env, check=True)
    return binary


def run(binary: Path, url: str, namespace: str, report_dir: Path) -> int:
    env = {
        **os.environ,
        "OCI_ROOT_URL": url,
        "OCI_NAMESPACE": f"{namespace}/conformance",
        "OCI_CROSSMOUNT_NAMESPACE": f"{namespace}/crossmount",
        "OCI_USERNAME": "admin",
        "OCI_PASSWORD": ADMIN_PASSWORD,
        "OCI_TEST_PULL": "1",
        "OCI_TEST_PUSH": "1",
        "OCI_TEST_CONTENT_DISCOVERY": "1",
        "OCI_TEST_CONTENT_MANAGEMENT": "1",
        # distribution mounts only with `from=`: the "disabled" spec runs.
        "OCI_AUTOMATIC_CROSSMOUNT": "0",
        "OCI_HIDE_SKIPPED_WORKFLOWS": "0",
        "OCI_REPORT_DIR": str(report_dir),
    }
    report_dir.mkdir(parents=True, exist_ok=True)
    return subprocess.run([str(binary)], cwd=report_dir, env=env, check=False).returncode


def summary(report_dir: Path) -> tuple[int, int, int, list[str]]:
    """Passed, failed, skipped, and the failed specs' names, from the suite's junit.xml."""
    passed = failed = skipped = 0
    failures: list[str] = []
    for case in ET.parse(report_dir / "junit.xml").iter("testcase"):
        if not case.get("name", "").startswith("OCI "):
            continue  # the suite's own reporter, not a spec
        if case.find("skipped") is not None:
            skipped += 1
        elif case.find("failure") is not None or case.find("error") is not None:
            failed += 1
            failures.append(case.get("name", "?"))
        else:
            passed += 1
    return passed, failed, skipped, failures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("spec_dir", type=Path, help="distribution-spec source (tag v1.1.1)")
    parser.add_argument("--module", type=Path, action="append", default=[])
    parser.add_argument("--report", type=Path, help="where the suite writes its reports")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="oci-conformance-") as tmp:
        work = Path(tmp)
        binary = build(args.spec_dir, args.module, work)
        report_dir = args.report or work / "report"
        with running_instance(work / "instance") as instance:
            namespace = f"oci{uuid.uuid4().hex[:8]}"
            instance.create_project(namespace)
            code = run(binary, instance.url, namespace, report_dir)
        passed, failed, skipped, failures = summary(report_dir)
    for name in failures:
        print(f"FAILED {name}")
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return code


if __name__ == "__main__":
    sys.exit(main())
