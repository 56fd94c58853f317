"""The bench's baselines run distribution configured like ours (issue: an honest bench)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench import Topology


def _environ(pid: int) -> dict[str, str]:
    raw = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    return dict(item.decode().split("=", 1) for item in raw if b"=" in item)


@pytest.mark.parametrize("name", ["bare", "nginx"])
def test_baseline_distribution_gets_our_go_settings(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HARBOR_REGISTRY_GOGC", "250")
    monkeypatch.setenv("HARBOR_REGISTRY_GOMEMLIMIT", "768MiB")
    topo = Topology(name, tmp_path / name)
    topo.start()
    try:
        registry = topo.procs[0]  # the first process a baseline starts is distribution
        environ = _environ(registry.pid)
    finally:
        topo.stop()
    assert environ["GOGC"] == "250"
    assert environ["GOMEMLIMIT"] == "768MiB"
