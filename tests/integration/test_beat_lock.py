"""The beat leader (harbor_py.beat_lock) on the real Redis: a beat that dies while this
node holds the lock is started again (the chaos test's beat died on its first database
error during a PostgreSQL failover, and no job was resumed afterwards)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

from tests.stack import REPO_ROOT

# A stand-in for celery beat: counts its starts, dies on the first, then runs on.
FLAKY_BEAT = """
import pathlib, sys, time
starts = pathlib.Path(sys.argv[1])
starts.write_text(starts.read_text() + "x" if starts.exists() else "x")
if len(starts.read_text()) == 1:
    sys.exit(1)
time.sleep(60)
"""
LEADER = """
import sys, django
django.setup()
from harbor_py.beat_lock import run_while_leader
sys.exit(run_while_leader(sys.argv[1:], node="test"))
"""


def test_a_beat_that_dies_is_started_again_while_this_node_leads(tmp_path: Path):
    starts = tmp_path / "starts"
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "harbor_py.settings_test",
        "HARBOR_CACHE_PREFIX": f"beat-test-{uuid.uuid4().hex[:8]}",  # a lock of its own
    }
    leader = subprocess.Popen(
        [sys.executable, "-c", LEADER, sys.executable, "-c", FLAKY_BEAT, str(starts)],
        cwd=REPO_ROOT,
        env=env,
    )
    try:
        deadline = time.monotonic() + 30
        while not (starts.exists() and len(starts.read_text()) >= 2):
            assert leader.poll() is None, "the leader gave up when its beat died"
            assert time.monotonic() < deadline, "beat was not started again"
            time.sleep(0.1)
    finally:
        leader.send_signal(signal.SIGTERM)
        assert leader.wait(timeout=30) == 0
