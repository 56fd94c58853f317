"""Resident memory of a whole running instance (bench.bench_load): every process under its
supervisord and the PostgreSQL backends of its database, by component.

PSS (proportional set size) rather than RSS: gunicorn's forked workers and PostgreSQL's
backends share most of their pages, and RSS would count those once per process. RSS is
given too, the figure `ps` and `top` show."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path

from bench.bench import component_of, process_table, stack_processes
from tests.stack import Instance


@dataclass
class Memory:
    pss_kib: dict[str, int] = field(default_factory=dict)  # by component
    rss_kib: int = 0

    @property
    def pss_total(self) -> int:
        return sum(self.pss_kib.values())

    def describe(self) -> str:
        parts = ", ".join(
            f"{name} {kib / 1024:.0f}"
            for name, kib in sorted(self.pss_kib.items(), key=lambda i: -i[1])
        )
        return f"PSS {self.pss_total / 1024:.0f} MiB (RSS {self.rss_kib / 1024:.0f}): {parts}"


def _fields(path: Path, names: tuple[str, ...]) -> dict[str, int]:
    found = {}
    try:
        lines = path.read_text().splitlines()
    except OSError:  # the process ended, or is not ours to read
        return found
    for line in lines:
        key, _, value = line.partition(":")
        if key in names:
            found[key] = int(value.split()[0])
    return found


def measure(instance: Instance) -> Memory:
    table = process_table()
    memory = Memory()
    for pid in stack_processes(table, [], instance):
        pss = _fields(Path(f"/proc/{pid}/smaps_rollup"), ("Pss",)).get("Pss", 0)
        rss = _fields(Path(f"/proc/{pid}/status"), ("VmRSS",)).get("VmRSS", 0)
        component = component_of(table[pid][1])
        memory.pss_kib[component] = memory.pss_kib.get(component, 0) + pss
        memory.rss_kib += rss
    return memory


class PeakMemory:
    """Samples the instance's memory every `interval` seconds while in the `with` block;
    `peak` is the sample with the largest total PSS."""

    def __init__(self, instance: Instance, interval: float = 1.0) -> None:
        self.instance = instance
        self.interval = interval
        self.peak = Memory()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            sample = measure(self.instance)
            if sample.pss_total > self.peak.pss_total:
                self.peak = sample

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
