"""tests.stack_memory counts the memory of every process under an instance's supervisord,
by component, and nothing outside it (real processes, no instance needed)."""

from __future__ import annotations

import subprocess
import sys
import time
import types
from pathlib import Path

from tests.stack_memory import PeakMemory, measure

HOLD_64_MIB = (
    "import time; data = bytearray(64 * 1024 * 1024); data[::4096] = b'x' * 16384; time.sleep(60)"
)


def test_a_child_of_supervisord_is_counted_and_a_stranger_is_not(tmp_path: Path) -> None:
    # Stand-ins: a "supervisord" whose child holds 64 MiB, and an unrelated process that
    # holds as much.
    parent = subprocess.Popen(
        [
            sys.executable,
            "-c",
            f"import subprocess, sys; subprocess.run([sys.executable, '-c', {HOLD_64_MIB!r}])",
        ]
    )
    stranger = subprocess.Popen([sys.executable, "-c", HOLD_64_MIB])
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "supervisord.pid").write_text(f"{parent.pid}\n")
    instance = types.SimpleNamespace(data_dir=tmp_path, db_name="no_such_database")
    try:
        with PeakMemory(instance, interval=0.2) as sampler:  # type: ignore[arg-type]  # a stand-in
            for _ in range(100):  # until the child holds its memory, at most 10 s
                if sampler.peak.pss_total >= 64 * 1024:
                    break
                time.sleep(0.1)
        memory = measure(instance)  # type: ignore[arg-type]  # a stand-in
    finally:
        for process in (parent, stranger):
            process.kill()
            process.wait()
    assert 64 * 1024 <= memory.pss_total < 2 * 64 * 1024  # one holder, not two
    assert memory.rss_kib >= memory.pss_total
    assert sampler.peak.pss_total >= 64 * 1024
    assert "MiB" in memory.describe()
