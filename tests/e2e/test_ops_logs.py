"""Logs of a real instance: JSON lines with the request id from nginx to the web app,
supervisord's size-based rotation, and every component's lines forwarded to a syslog
receiver (HARBOR_LOG_FORWARD_ENDPOINT)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.stack import running_instance
from tests.syslog_receiver import SyslogReceiver


def _json_lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.startswith("{")]


def _wait(predicate, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := predicate():
            return result
        time.sleep(0.2)
    raise AssertionError("timed out")


def test_request_ids_rotation_and_forwarding(tmp_path: Path) -> None:
    receiver = SyslogReceiver().start()
    env = {
        "HARBOR_LOG_FORWARD_ENDPOINT": f"tcp://{receiver.endpoint}",
        "HARBOR_LOG_MAX_BYTES": "20KB",
        "HARBOR_LOG_BACKUPS": "2",
    }
    try:
        with running_instance(tmp_path / "inst", extra_env=env) as instance:
            logs = instance.data_dir / "logs"
            with instance.client() as api:
                response = api.get("/api/v2.0/projects", headers={"X-Request-Id": "e2e-rid-1"})
                assert response.headers["X-Request-Id"] == "e2e-rid-1"
                minted = api.get("/api/v2.0/systeminfo").headers["X-Request-Id"]
            # The web app's access line and nginx's carry the same ids.
            core = _wait(
                lambda: [
                    line
                    for line in _json_lines(logs / "core-access.log")
                    if line.get("request_id") == "e2e-rid-1"
                ]
            )
            assert core[0]["path"] == "/api/v2.0/projects" and core[0]["status"] == 200
            assert core[0]["component"] == "core"
            nginx = _wait(
                lambda: [
                    line
                    for line in _json_lines(logs / "nginx-access.log")
                    if line.get("request_id") in ("e2e-rid-1", minted)
                ],
                timeout=10,
            )
            assert {line["request_id"] for line in nginx} == {"e2e-rid-1", minted}
            assert all(line["component"] == "nginx" for line in nginx)

            # Forwarded: nginx's and the web app's lines reach the receiver.
            messages = _wait(
                lambda: (
                    [m for m in receiver.messages if "e2e-rid-1" in m.text]
                    if {"nginx-access", "core-access"}
                    <= {m.app for m in receiver.messages if "e2e-rid-1" in m.text}
                    else None
                )
            )
            assert {m.app for m in messages} >= {"nginx-access", "core-access"}
            assert all(m.version == 1 and m.facility == 16 for m in messages)

            # Rotation: 20 KB per file, two backups.
            with instance.client() as api:
                for _ in range(300):
                    api.get("/api/v2.0/ping")
            _wait(
                lambda: (
                    (logs / "nginx-access.log.1").exists() and (logs / "core-access.log.1").exists()
                )
            )
            assert not (logs / "nginx-access.log.3").exists()
            assert (logs / "nginx-access.log").stat().st_size <= 20 * 1024 + 4096
            # Lines written around a rotation are still forwarded: the last ping arrives.
            with instance.client() as api:
                api.get("/api/v2.0/ping", headers={"X-Request-Id": "e2e-after-rotation"})
            _wait(lambda: [m for m in receiver.messages if "e2e-after-rotation" in m.text])
    finally:
        receiver.stop()
