"""Chunked blob uploads through the whole stack (nginx, token, gate, distribution): the
OCI distribution spec's range rules that distribution 2.8 lacks (registry/uploads.py), and
the neighbouring behaviours that must not change: resumed uploads, Range on the status
GET, cancelled uploads, and streamed PATCHes without a Content-Range. Each runs on the
filesystem driver and on S3 (a real SeaweedFS)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.seaweedfs import SeaweedFS
from tests.stack import ADMIN_PASSWORD, Instance, running_instance

CHUNK_A, CHUNK_B = b"a" * 1000, b"b" * 500
OCTETS = {"Content-Type": "application/octet-stream"}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@pytest.fixture(scope="module")
def s3_stack(tmp_path_factory: pytest.TempPathFactory, seaweedfs: SeaweedFS) -> Iterator[Instance]:
    """An instance whose registry storage is a SeaweedFS bucket: the gate sizes uploads
    from the bucket's multipart uploads (registry/s3_uploads.py)."""
    env = seaweedfs.harbor_env(seaweedfs.new_bucket("uploads"))
    with running_instance(tmp_path_factory.mktemp("s3-stack"), extra_env=env) as instance:
        yield instance


@pytest.fixture(params=["filesystem", "s3"])
def instance(request: pytest.FixtureRequest) -> Instance:
    return request.getfixturevalue("stack" if request.param == "filesystem" else "s3_stack")


@pytest.fixture
def registry(instance: Instance) -> Iterator[tuple[httpx.Client, str]]:
    project = f"up{uuid.uuid4().hex[:10]}"
    instance.create_project(project)
    name = f"{project}/blobs"
    scope = [f"repository:{name}:pull,push,delete"]
    token = instance.token(scope, auth=("admin", ADMIN_PASSWORD))
    bearer = {"Authorization": f"Bearer {token['token']}"}
    with httpx.Client(base_url=instance.url, headers=bearer) as client:
        yield client, name


def _start(client: httpx.Client, name: str) -> str:
    started = client.post(f"/v2/{name}/blobs/uploads/", headers={"Content-Length": "0"})
    assert started.status_code == 202
    return started.headers["Location"]


def _patch(client: httpx.Client, location: str, data: bytes, start: int) -> httpx.Response:
    content_range = f"{start}-{start + len(data) - 1}"
    return client.patch(location, content=data, headers={**OCTETS, "Content-Range": content_range})


def _finish(client: httpx.Client, location: str, digest: str) -> httpx.Response:
    return client.put(f"{location}&digest={digest}", headers=OCTETS)


def test_out_of_order_first_chunk_is_refused_with_416(registry) -> None:
    client, name = registry
    location = _start(client, name)
    refused = _patch(client, location, CHUNK_B, start=len(CHUNK_A))
    assert refused.status_code == 416
    assert refused.json()["errors"][0]["code"] == "RANGE_INVALID"
    # Nothing was written: the upload is still empty and completes from offset 0.
    status = client.get(location)
    assert status.status_code == 204 and status.headers["Range"] == "0-0"
    accepted = _patch(client, status.headers["Location"], CHUNK_A + CHUNK_B, start=0)
    assert accepted.status_code == 202
    assert accepted.headers["Range"] == f"0-{len(CHUNK_A + CHUNK_B) - 1}"
    done = _finish(client, accepted.headers["Location"], _digest(CHUNK_A + CHUNK_B))
    assert done.status_code == 201


def test_resent_chunk_at_an_earlier_location_is_416_and_the_upload_survives(registry) -> None:
    client, name = registry
    first = _start(client, name)
    accepted = _patch(client, first, CHUNK_A, start=0)
    assert accepted.status_code == 202 and accepted.headers["Range"] == "0-999"

    resent = _patch(client, first, CHUNK_A, start=0)
    assert resent.status_code == 416
    assert resent.headers["Range"] == "0-999"
    # distribution 2.8 cancels an upload addressed at a stale offset; the gate's 416
    # comes before, so the upload goes on at the Location the refusal gives.
    second = _patch(client, resent.headers["Location"], CHUNK_B, start=len(CHUNK_A))
    assert second.status_code == 202 and second.headers["Range"] == "0-1499"
    whole = CHUNK_A + CHUNK_B
    assert _finish(client, second.headers["Location"], _digest(whole)).status_code == 201
    assert client.get(f"/v2/{name}/blobs/{_digest(whole)}").content == whole


def test_status_get_on_an_earlier_location_gives_range_and_location(registry) -> None:
    client, name = registry
    first = _start(client, name)
    accepted = _patch(client, first, CHUNK_A, start=0)
    assert accepted.status_code == 202

    stale = client.get(first)
    assert stale.status_code == 204
    assert stale.headers["Range"] == "0-999"
    assert stale.headers["Docker-Upload-UUID"] in first
    current = client.get(accepted.headers["Location"])
    assert current.status_code == 204 and current.headers["Range"] == "0-999"
    # The Location it gives resumes the upload (a client's "resumable push").
    resumed = _patch(client, stale.headers["Location"], CHUNK_B, start=len(CHUNK_A))
    assert resumed.status_code == 202
    whole = CHUNK_A + CHUNK_B
    assert _finish(client, resumed.headers["Location"], _digest(whole)).status_code == 201


def test_status_of_unknown_forged_or_cancelled_uploads(registry, instance: Instance) -> None:
    client, name = registry
    location = _start(client, name)
    upload_id = location.split("/uploads/")[1].split("?")[0]
    forged = client.get(f"/v2/{name}/blobs/uploads/{upload_id}?_state=AAAA")
    assert forged.status_code == 404
    assert forged.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"
    anonymous = httpx.get(instance.url + location.split(instance.url, 1)[-1])
    assert anonymous.status_code == 401

    collection = client.get(f"/v2/{name}/blobs/uploads/")
    assert collection.status_code == 405
    assert collection.json()["errors"][0]["code"] == "UNSUPPORTED"

    assert client.delete(location).status_code == 204
    gone = client.get(location)
    assert gone.status_code == 404
    assert gone.json()["errors"][0]["code"] == "BLOB_UPLOAD_UNKNOWN"


def test_streamed_patch_without_range_and_monolithic_put_still_work(registry) -> None:
    """What docker, skopeo and podman send: no Content-Range, so no extra hop."""
    client, name = registry
    whole = CHUNK_A + CHUNK_B
    streamed = client.patch(_start(client, name), content=iter([CHUNK_A, CHUNK_B]))
    assert streamed.status_code == 202 and streamed.headers["Range"] == "0-1499"
    assert _finish(client, streamed.headers["Location"], _digest(whole)).status_code == 201

    data = b"monolithic"
    location = _start(client, name)
    put = client.put(f"{location}&digest={_digest(data)}", content=data, headers=OCTETS)
    assert put.status_code == 201
    assert client.get(f"/v2/{name}/blobs/{_digest(data)}").content == data


def test_range_check_needs_push_access(registry, instance: Instance) -> None:
    """Without a push token the check lets distribution refuse, and the gate says why."""
    client, name = registry
    location = _start(client, name)
    anonymous = httpx.patch(
        location, content=CHUNK_A, headers={**OCTETS, "Content-Range": "5-1004"}
    )
    assert anonymous.status_code == 401
    assert "Range" not in anonymous.headers


def test_bad_names_and_ranges_on_checked_uploads_are_4xx(registry, instance: Instance) -> None:
    """The check is an nginx auth_request, which turns any answer but 2xx/401/403 into a
    500: bad input has to reach distribution (or the gate) and get its 4xx there."""
    client, name = registry
    location = _start(client, name)
    for path, content_range, status, code in (
        # distribution's own answer to a name its routes do not match, range or not
        (f"/v2/{name.upper()}/blobs/uploads/x?_state=y", "0-9", 404, None),
        (location, "not-a-range", 400, "BLOB_UPLOAD_INVALID"),
        (location, "9-0", 400, "BLOB_UPLOAD_INVALID"),
        (location.replace("_state=", "_state=broken"), "0-9", 404, "BLOB_UPLOAD_INVALID"),
    ):
        answer = client.patch(path, content=b"0123456789", headers={"Content-Range": content_range})
        assert answer.status_code == status, (path, content_range, answer.text)
        if code is not None:
            assert answer.json()["errors"][0]["code"] == code
    # None of them touched the upload.
    assert client.get(location).headers["Range"] == "0-0"
