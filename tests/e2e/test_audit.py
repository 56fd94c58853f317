"""The audit log on a whole instance: pulls reach it through Redis and the beat-scheduled
aggregation, logins and changes are recorded, and the Celery worker forwards entries to a
syslog receiver after commit (and catches up after the receiver was down)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.imagegen import make_image
from tests.stack import ADMIN_PASSWORD, Instance, skopeo
from tests.syslog_receiver import SyslogReceiver

ADMIN = ("admin", ADMIN_PASSWORD)


def _eventually(check: Callable[[], Any], timeout: float = 40.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.5)


def _entries(stack: Instance, q: str) -> list[dict[str, Any]]:
    with stack.client() as api:
        response = api.get("/api/v2.0/auditlog-exts", params={"q": q, "page_size": 100})
    assert response.status_code == 200, response.text
    return response.json()


@pytest.fixture
def receiver(stack: Instance) -> Iterator[SyslogReceiver]:
    server = SyslogReceiver().start()
    with stack.client() as api:
        put = api.put(
            "/api/v2.0/configurations", json={"audit_log_forward_endpoint": server.endpoint}
        )
        assert put.status_code == 200, put.text
    yield server
    with stack.client() as api:
        api.put("/api/v2.0/configurations", json={"audit_log_forward_endpoint": ""})
    server.stop()


def test_pushes_pulls_and_logins_are_recorded(stack: Instance, tmp_path: Path) -> None:
    project = f"p{uuid.uuid4().hex[:10]}"
    stack.create_project(project)
    image = make_image(tmp_path / "src", layer_sizes=[1000])
    skopeo("copy", image.ref, f"docker://{stack.host}/{project}/app:v1", creds=ADMIN)
    skopeo(
        "copy", f"docker://{stack.host}/{project}/app:v1", f"oci:{tmp_path / 'out'}:v1", creds=ADMIN
    )

    pushes = _entries(stack, f"operation=create,resource_type=artifact,resource=~{project}/")
    assert [e["resource"] for e in pushes] == [f"{project}/app:v1"]
    # pulls arrive with the next aggregation (beat, every 10 s)
    pulls = _eventually(lambda: _entries(stack, f"operation=pull,resource=~{project}/"))
    assert pulls[0]["username"] == "admin" and pulls[0]["resource"] == f"{project}/app:v1"

    with stack.client(("admin", "wrong-password")) as api:
        assert api.get("/api/v2.0/users/current").status_code == 401
    failed = _entries(stack, "operation=login,operation_result=false,username=admin")
    assert failed and failed[0]["operation_description"] == "invalid username or password"

    with stack.client() as api:
        export = api.get("/api/v2.0/auditlog-exts/export", params={"q": f"resource=~{project}"})
    assert export.status_code == 200 and export.headers["content-type"].startswith("text/csv")
    assert f"{project}/app:v1" in export.text


def test_entries_are_forwarded_by_the_worker(stack: Instance, receiver: SyslogReceiver) -> None:
    name = f"p{uuid.uuid4().hex[:10]}"
    stack.create_project(name)
    _eventually(
        lambda: any(
            m.msgid == "create_project" and m.params["resource"] == name
            for m in list(receiver.messages)
        )
    )
    # the change of the endpoint itself was recorded, and forwarded, too
    assert any(m.msgid == "update_configuration" for m in receiver.messages)

    receiver.stop()
    later = [f"p{uuid.uuid4().hex[:10]}" for _ in range(3)]
    for project in later:
        stack.create_project(project)
    time.sleep(2)
    receiver.start()  # back on the same port: beat's next run sends the backlog in order

    def forwarded() -> list[str]:
        names = [m.params["resource"] for m in receiver.messages if m.msgid == "create_project"]
        return names if all(p in names for p in later) else []

    names = _eventually(forwarded, timeout=40)
    assert [n for n in names if n in later] == later
