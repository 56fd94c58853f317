"""Tag retention through a whole instance (skopeo pushes, real pulls whose times drive the
"latest pulled" rule, the run on the instance's Celery worker), and the job service
dashboard against its real worker and broker: pause holds a job, resume drains it, stop
drops what waits (issue #25)."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

from tests.contract import assert_matches
from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo

ADMIN = ("admin", ADMIN_PASSWORD)
PURGE = {
    "schedule": {"type": "Manual"},
    "parameters": {"audit_retention_hour": 168, "dry_run": True},
}


def _until(check: Callable[[], object], what: str, timeout: float = 90) -> object:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.5)
    raise AssertionError(f"timed out waiting for {what}")


def _tags(stack: Instance, repository: str) -> set[str]:
    listing = skopeo("list-tags", f"docker://{stack.host}/{repository}", creds=ADMIN)
    return set(json.loads(listing.stdout)["Tags"])


def _finished(api, path: str) -> dict:
    def done() -> dict | None:
        found = api.get(path).json()
        return found[0] if found and found[0]["status"] not in ("Pending", "Running") else None

    found = _until(done, path)
    assert isinstance(found, dict)
    return found


def test_retention_keeps_what_the_rules_say_through_the_stack(stack: Instance, tmp_path: Path):
    project = f"r{uuid.uuid4().hex[:10]}"
    project_id = stack.create_project(project)
    repository = f"{project}/app"
    for tag in ("v1", "v2", "v3", "v4", "release-1"):
        image = make_image(tmp_path / tag, layer_sizes=[200])
        skopeo("copy", image.ref, f"docker://{stack.host}/{repository}:{tag}", creds=ADMIN)
    # a real pull of v2: its pull time makes it the latest pulled
    skopeo(
        "copy",
        f"docker://{stack.host}/{repository}:v2",
        f"oci:{tmp_path / 'pulled'}:v2",
        creds=ADMIN,
    )
    every = [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
    versions = [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}]
    policy = {
        "algorithm": "or",
        "rules": [
            {
                "template": "latestPushedK",
                "params": {"latestPushedK": 1},
                "tag_selectors": versions,
                "scope_selectors": {"repository": every},
            },
            {
                "template": "latestPulledN",
                "params": {"latestPulledN": 1},
                "tag_selectors": versions,
                "scope_selectors": {"repository": every},
            },
            {
                "template": "always",
                "params": {},
                "tag_selectors": [
                    {"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}
                ],
                "scope_selectors": {"repository": every},
            },
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}, "references": {}},
        "scope": {"level": "project", "ref": project_id},
    }
    with stack.client() as api:
        created = api.post("/api/v2.0/retentions", json=policy)
        assert created.status_code == 201, created.text
        base = created.headers["Location"].replace("/api/v2.0", "")
        assert api.post(f"/api/v2.0{base}/executions", json={"dry_run": True}).status_code == 201
        dry = _finished(api, f"/api/v2.0{base}/executions")
        assert dry["status"] == "Success" and dry["dry_run"] is True
        tasks = api.get(f"/api/v2.0{base}/executions/{dry['id']}/tasks")
        assert_matches("listRetentionTasks", tasks, 200)
        [task] = tasks.json()
        assert (task["repository"], task["total"], task["retained"]) == (repository, 5, 3)
        log = api.get(f"/api/v2.0{base}/executions/{dry['id']}/tasks/{task['id']}").text
        assert _tags(stack, repository) == {"v1", "v2", "v3", "v4", "release-1"}

        assert api.post(f"/api/v2.0{base}/executions", json={"dry_run": False}).status_code == 201
        real = _finished(api, f"/api/v2.0{base}/executions")
        assert real["status"] == "Success" and real["id"] != dry["id"]
        assert _tags(stack, repository) == {"v2", "v4", "release-1"}
        # what the dry run said would go is what went
        deleted = {line.split()[3] for line in log.splitlines() if " DELETE " in line}
        assert deleted == {"v1", "v3"}, log
        gone = skopeo("inspect", f"docker://{stack.host}/{repository}:v1", creds=ADMIN, check=False)
        assert gone.returncode != 0
        skopeo(
            "copy",
            f"docker://{stack.host}/{repository}:v2",
            f"oci:{tmp_path / 'again'}:v2",
            creds=ADMIN,
        )
        logs = api.get(
            f"/api/v2.0/projects/{project}/logs", params={"q": "operation=delete"}
        ).json()
        assert {entry["username"] for entry in logs} == {"harbor-retention"}
        assert len(logs) == 2


def test_pausing_a_job_type_holds_its_runs_and_resuming_drains_them(stack: Instance):
    with stack.client() as api:
        pools = api.get("/api/v2.0/jobservice/pools")
        assert_matches("getWorkerPools", pools, 200)
        [pool] = pools.json()
        assert pool["concurrency"] >= 1 and pool["pid"] > 0
        workers = api.get(f"/api/v2.0/jobservice/pools/{pool['worker_pool_id']}/workers")
        assert_matches("getWorkers", workers, 200)
        assert len(workers.json()) == pool["concurrency"]

        queue = "/api/v2.0/jobservice/queues/PURGE_AUDIT_LOG"
        assert api.put(queue, json={"action": "pause"}).status_code == 200
        assert api.get("/api/v2.0/schedules/PURGE_AUDIT_LOG/paused").json() == {"paused": True}
        started = api.post("/api/v2.0/system/purgeaudit/schedule", json=PURGE)
        assert started.status_code == 201, started.text
        job = started.headers["Location"].replace("/api/v2.0", "")

        def waiting() -> dict:
            listed = api.get("/api/v2.0/jobservice/queues")
            assert_matches("listJobQueues", listed, 200)
            return {q["job_type"]: q for q in listed.json()}["PURGE_AUDIT_LOG"]

        # held while paused, with an idle worker at hand
        deadline = time.monotonic() + 4
        while time.monotonic() < deadline:
            assert api.get(f"/api/v2.0{job}").json()["job_status"] == "Pending"
            assert waiting()["count"] >= 1 and waiting()["paused"] is True
            time.sleep(0.5)
        assert api.put(queue, json={"action": "resume"}).status_code == 200
        _until(lambda: api.get(f"/api/v2.0{job}").json()["job_status"] == "Success", "the run")
        assert waiting()["count"] == 0 and waiting()["paused"] is False

        # stop: what waits in a paused queue is stopped and never runs
        assert api.put(queue, json={"action": "pause"}).status_code == 200
        held = api.post("/api/v2.0/system/purgeaudit/schedule", json=PURGE)
        held_job = held.headers["Location"].replace("/api/v2.0", "")
        assert api.put(queue, json={"action": "stop"}).status_code == 200
        assert api.put(queue, json={"action": "resume"}).status_code == 200
        _until(lambda: waiting()["count"] == 0, "the queue to empty")
        assert api.get(f"/api/v2.0{held_job}").json()["job_status"] == "Stopped"
