"""For the end-to-end load tests: GC runs through the API, and running the load threads."""

from __future__ import annotations

import json
import threading
import time

import httpx

FINAL = {"Success", "Error", "Stopped"}


def manual_gc(
    api: httpx.Client, parameters: dict, *, timeout: float = 300
) -> tuple[dict, str] | None:
    """One manual GC, waited for: (the run: id, status and Harbor's job_parameters; its log
    when it did not succeed, else ""), or None when a GC was already running."""
    response = api.post(
        "/api/v2.0/system/gc/schedule",
        json={"schedule": {"type": "Manual"}, "parameters": parameters},
    )
    if response.status_code == 409:
        return None
    assert response.status_code == 201, response.text
    job = response.headers["Location"].rsplit("/", 1)[1]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        item = api.get(f"/api/v2.0/system/gc/{job}").json()
        if item["job_status"] in FINAL:
            break
        time.sleep(0.2)
    else:
        raise AssertionError(f"GC {job} did not finish")
    log = ""
    if item["job_status"] != "Success":
        log = api.get(f"/api/v2.0/system/gc/{job}/log").text
    run = {"id": job, "status": item["job_status"], **json.loads(item["job_parameters"])}
    return run, log


class GcRuns:
    """The manual GCs a load test ran, from several threads: what each reported, how many
    found another running, and the failures added to the test's `errors`."""

    def __init__(self, errors: list[str], parameters: dict, *, timeout: float = 300) -> None:
        self.errors = errors
        self.parameters = parameters
        self.timeout = timeout
        self.runs: list[dict] = []
        self.conflicts = 0
        self.lock = threading.Lock()

    def run(self, api: httpx.Client) -> dict | None:
        """One GC, waited for; None when one was already running."""
        done = manual_gc(api, self.parameters, timeout=self.timeout)
        with self.lock:
            if done is None:
                self.conflicts += 1
                return None
            run, log = done
            if log:
                self.errors.append(f"GC {run['id']} {run['status']}: {log[-2000:]}")
            self.runs.append(run)
        return run


def run_all(threads: list[threading.Thread], timeout: float) -> None:
    """Start the load's threads and wait for every one of them."""
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=timeout)
    assert not any(t.is_alive() for t in threads), "a load thread did not stop"
