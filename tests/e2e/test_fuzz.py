"""Bounded fuzzing of a whole instance (issue #20): no input may produce a 5xx, and every
answer must have a documented shape.

- The REST API: schemathesis generates requests from our own OpenAPI document
  (/api/v2.0/openapi.json), valid and invalid, for every operation, as the system
  administrator; each answer must not be a 5xx and must match the document (every refusal
  is Harbor's `{"errors": [{"code", "message"}]}`, the document's `default` response).
- The second wave's bodies (webhooks, retention, schedules, the job service, registries,
  scanners, labels, robots, the OIDC settings): valid bodies with hostile values put in
  (tests/e2e/fuzz_bodies.py), on objects the fixtures made; each answer must not be a 5xx,
  and a refusal must be Harbor's error.
- The registry protocol: hypothesis generates manifest bodies, digests, repository names,
  `n`/`last` and `Content-Range` for the /v2 routes; each answer must not be a 5xx, and a
  refusal with a body must be an OCI error.

Bounded by FUZZ_EXAMPLES (examples per API operation), BODY_CASES (mutated bodies per
operation) and REGISTRY_EXAMPLES (per registry surface), all overridable in the
environment; the case counts are printed at the end.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import random
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from tests.e2e.fuzz_bodies import mutate
from tests.stack import ADMIN_PASSWORD, Instance, running_instance

FUZZ_EXAMPLES = int(os.environ.get("HARBOR_FUZZ_EXAMPLES", "12"))
REGISTRY_EXAMPLES = int(os.environ.get("HARBOR_FUZZ_REGISTRY_EXAMPLES", "150"))
BODY_CASES = int(os.environ.get("HARBOR_FUZZ_BODY_CASES", "30"))
FUZZ_SEED = int(os.environ.get("HARBOR_FUZZ_SEED", "20"))
BASIC = "Basic " + base64.b64encode(f"admin:{ADMIN_PASSWORD}".encode()).decode()
# Operations left out, each covered by its own tests:
# - they would change the instance under the rest of the run (read-only mode or LDAP as the
#   auth mode; the admin's own password, account or role);
# - they connect to an address taken from the request (a registry endpoint, an LDAP
#   server): a fuzzer must send traffic to this machine only.
SKIPPED = {
    "updateConfigurations",
    "updateUserPassword",
    "deleteUser",
    "setUserSysAdmin",
    "createRegistry",
    "updateRegistry",
    "pingRegistry",
    "getRegistryInfo",
    "startReplication",
    "pingLdap",
    # a webhook target is resolved when written and receives the instance's events
    "CreateWebhookPolicyOfProject",
    "UpdateWebhookPolicyOfProject",
}
OCI_CODES = {
    "BLOB_UNKNOWN",
    "BLOB_UPLOAD_INVALID",
    "BLOB_UPLOAD_UNKNOWN",
    "DIGEST_INVALID",
    "MANIFEST_BLOB_UNKNOWN",
    "MANIFEST_INVALID",
    "MANIFEST_UNKNOWN",
    "MANIFEST_UNVERIFIED",
    "NAME_INVALID",
    "NAME_UNKNOWN",
    "SIZE_INVALID",
    "TAG_INVALID",
    "UNAUTHORIZED",
    "DENIED",
    "UNSUPPORTED",
    "TOOMANYREQUESTS",
    "PAGINATION_NUMBER_INVALID",
    "RANGE_INVALID",
}
COUNTS: Counter[str] = Counter()
FAILURE_TEXT = 1500  # characters of each operation's failure in the report
SETTINGS = settings(
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=list(HealthCheck),
    print_blob=True,
)


@pytest.fixture(scope="module")
def fuzz_stack(
    tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> Iterator[Instance]:
    """An instance of its own: the run creates, changes and deletes whatever it may."""
    # webhook targets on this machine (the bodies fuzzed name 127.0.0.1)
    private_targets = {"HARBOR_WEBHOOK_ALLOW_PRIVATE_TARGETS": "true"}
    with running_instance(tmp_path_factory.mktemp("fuzz"), extra_env=private_targets) as instance:
        instance.create_project("fuzz")
        yield instance
    summary = ", ".join(f"{surface}: {n}" for surface, n in sorted(COUNTS.items()))
    capture = request.config.pluginmanager.get_plugin("capturemanager")
    with capture.global_and_fixture_disabled():
        print(f"\nfuzz cases run: {sum(COUNTS.values())} ({summary})")


# --- the REST API, from our OpenAPI document -------------------------------------------


def _api_schema(instance: Instance) -> Any:
    schema = schemathesis.openapi.from_url(f"{instance.url}/api/v2.0/openapi.json")
    return schema.exclude(operation_id=sorted(SKIPPED))


# Path parameters that name what the fixtures made (project fuzz, its image app:v1), so
# that a third pass per operation reaches past the lookups instead of answering 404.
KNOWN = {
    "project_name": "fuzz",
    "project_name_or_id": "fuzz",
    "repository_name": "app",
    "reference": "v1",
    "tag_name": "v1",
    "addition": "build_history",
    "meta_name": "public",
}


def test_api_answers_in_documented_shapes(fuzz_stack: Instance, registry: tuple) -> None:
    """Every operation of our document: FUZZ_EXAMPLES valid and as many invalid requests
    each, and as many valid ones on the fixtures' objects (not for DELETE: the run goes on
    with them); all failures are collected, so that one run shows every root cause."""
    failures: list[str] = []
    operations = 0
    for result in _api_schema(fuzz_stack).get_all_operations():
        operation = result.ok()
        operations += 1
        names = [p.name for p in operation.path_parameters]
        passes: list[tuple[GenerationMode, dict[str, str] | None]] = [
            (GenerationMode.POSITIVE, None),
            (GenerationMode.NEGATIVE, None),
        ]
        if names and all(n in KNOWN for n in names) and operation.method.upper() != "DELETE":
            passes.append((GenerationMode.POSITIVE, {n: KNOWN[n] for n in names}))
        for mode, known in passes:
            try:
                _fuzz_operation(operation, mode, fuzz_stack, known)
            except Unsatisfiable:  # no invalid value for its parameters (strings, no body)
                continue
            except BaseException as exc:  # failures are exception groups: gather them all
                if isinstance(exc, KeyboardInterrupt):
                    raise
                where = f" on {known}" if known else ""
                failures.append(
                    f"{operation.label} ({mode.value}{where}): {str(exc)[:FAILURE_TEXT]}"
                )
    assert operations > 100, f"only {operations} operations in the document"
    assert not failures, f"{len(failures)} operations failed:\n\n" + "\n\n".join(failures)


def _fuzz_operation(
    operation: Any, mode: GenerationMode, instance: Instance, known: dict[str, str] | None
) -> None:
    strategy = operation.as_strategy(generation_mode=mode, path_parameters=known)

    @settings(SETTINGS, max_examples=FUZZ_EXAMPLES)
    @given(case=strategy)
    def call(case: schemathesis.Case) -> None:
        COUNTS["api"] += 1
        case.call_and_validate(
            base_url=instance.url,
            headers={"Authorization": BASIC},
            checks=[
                not_a_server_error,
                status_code_conformance,
                content_type_conformance,
                response_schema_conformance,
            ],
            timeout=30,
        )

    call()


# --- the second wave's bodies ----------------------------------------------------------

LOCAL = "http://127.0.0.1:9"  # the discard port: nothing listens, a connection is refused


def _retention_body(project_id: int) -> dict[str, Any]:
    return {
        "algorithm": "or",
        "rules": [
            {
                "template": "latestPushedK",
                "action": "retain",
                "params": {"latestPushedK": 3},
                "tag_selectors": [
                    {"kind": "doublestar", "decoration": "matches", "pattern": "v*"},
                    {"kind": "label", "decoration": "withoutLabels", "pattern": "keep"},
                ],
                "scope_selectors": {
                    "repository": [
                        {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
                    ]
                },
            }
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}},
        "scope": {"level": "project", "ref": project_id},
    }


def _made(api: httpx.Client, path: str, body: dict[str, Any]) -> str:
    """The id at the end of the Location of what a POST created."""
    response = api.post(f"/api/v2.0{path}", json=body)
    assert response.status_code == 201, f"POST {path}: {response.status_code} {response.text}"
    return response.headers["Location"].rsplit("/", 1)[1]


def _project_id(api: httpx.Client, name: str) -> int:
    assert api.post("/api/v2.0/projects", json={"project_name": name}).status_code == 201
    return int(api.get(f"/api/v2.0/projects/{name}").json()["project_id"])


@pytest.fixture(scope="module")
def second_wave(fuzz_stack: Instance) -> list[tuple[str, str, Any]]:
    """(method, path, a valid body) of each operation fuzzed, on objects made here. The
    retention policies are on projects of their own, which hold no image: a mutation that
    is still valid may delete what its rules no longer retain."""
    headers = {"Authorization": BASIC}
    with httpx.Client(base_url=fuzz_stack.url, headers=headers, timeout=30) as api:
        kept = _project_id(api, "fuzz-retention")
        fresh = _project_id(api, "fuzz-retention-new")
        retention = _retention_body(kept)
        policy = _made(api, "/retentions", retention)
        run = _made(api, f"/retentions/{policy}/executions", {"dry_run": True})
        webhook = {
            "name": "fuzz",
            "description": "",
            "targets": [{"type": "http", "address": f"{LOCAL}/hook", "payload_format": "Default"}],
            "event_types": ["DELETE_ARTIFACT"],
            "enabled": False,  # nothing delivered while the registry fuzzing pushes
        }
        hook = _made(api, "/projects/fuzz/webhook/policies", webhook)
        registry = {"name": "fuzz", "type": "docker-registry", "url": LOCAL, "insecure": True}
        endpoint = _made(api, "/registries", registry)
        scanner = {"name": "fuzz", "url": LOCAL, "auth": "Bearer", "access_credential": "t"}
        uuid = _made(api, "/scanners", scanner)
        label = {"name": "fuzz", "description": "", "color": "#112233", "scope": "g"}
        label_id = _made(api, "/labels", label)
        robot = {
            "name": "fuzz",
            "level": "system",
            "duration": 30,
            "permissions": [
                {
                    "kind": "project",
                    "namespace": "fuzz",
                    "access": [{"resource": "repository", "action": "pull"}],
                }
            ],
        }
        robot_id = _made(api, "/robots", robot)
    schedule = {"schedule": {"type": "Custom", "cron": "0 0 0 * * 6"}, "parameters": {}}
    artifact = "/projects/fuzz/repositories/app/artifacts/v1"
    oidc = {
        "oidc_name": "fuzz",
        "oidc_endpoint": f"{LOCAL}/oidc",
        "oidc_client_id": "harbor",
        "oidc_scope": "openid,offline_access",
        "oidc_verify_cert": True,
        "oidc_auto_onboard": False,
        "oidc_user_claim": "name",
        "oidc_groups_claim": "groups",
        "oidc_admin_group": "admins",
        "oidc_group_filter": "^dev-.*",
        "oidc_extra_redirect_parms": '{"prompt": "login"}',
        "oidc_logout": False,
    }
    return [
        ("POST", "/retentions", _retention_body(fresh)),
        ("PUT", f"/retentions/{policy}", retention),
        ("POST", f"/retentions/{policy}/executions", {"dry_run": True}),
        ("PATCH", f"/retentions/{policy}/executions/{run}", {"action": "stop"}),
        ("POST", "/projects/fuzz/webhook/policies", webhook),
        ("PUT", f"/projects/fuzz/webhook/policies/{hook}", webhook),
        ("POST", "/system/gc/schedule", schedule),
        ("PUT", "/system/purgeaudit/schedule", schedule),
        ("PUT", "/system/scanAll/schedule", schedule),
        ("PUT", "/jobservice/queues/all", {"action": "resume"}),
        ("POST", "/registries", registry),
        ("PUT", f"/registries/{endpoint}", {**registry, "access_key": "", "access_secret": ""}),
        ("POST", "/registries/ping", registry),
        ("POST", "/scanners", scanner),
        ("PUT", f"/scanners/{uuid}", scanner),
        ("PATCH", f"/scanners/{uuid}", {"is_default": False}),
        ("POST", "/scanners/ping", scanner),
        ("PUT", "/projects/fuzz/scanner", {"uuid": uuid}),
        ("POST", f"{artifact}/scan", {"scan_type": "vulnerability"}),
        ("PUT", "/system/CVEAllowlist", {"items": [{"cve_id": "CVE-2024-0001"}], "expires_at": 1}),
        ("POST", "/labels", label),
        ("PUT", f"/labels/{label_id}", label),
        ("POST", f"{artifact}/labels", {"id": int(label_id)}),
        ("POST", "/robots", robot),
        ("PUT", f"/robots/{robot_id}", robot),
        ("PATCH", f"/robots/{robot_id}", {"secret": "Fuzzing12345"}),
        ("PUT", "/configurations", oidc),
    ]


def _harbor_error(response: httpx.Response, path: str) -> str | None:
    """What is wrong with an answer to a fuzzed body, or None. A scan may find the
    project's scanner down (the fixtures' one listens nowhere, and a fuzzed body may have
    made it the project's or the default): 503, as for any adapter that does not answer."""
    down = response.status_code == 503 and "is unreachable" in response.text
    if response.status_code >= 500 and not (down and path.endswith("/scan")):
        return f"{response.status_code} {response.text[:300]}"
    if response.status_code < 400:
        return None
    try:
        errors = response.json()["errors"]
        assert isinstance(errors[0]["code"], str) and isinstance(errors[0]["message"], str)
    except (ValueError, KeyError, IndexError, TypeError, AssertionError):
        return f"{response.status_code} not Harbor's error shape: {response.text[:300]}"
    return None


def test_second_wave_bodies(fuzz_stack: Instance, registry: tuple, second_wave: list) -> None:
    """BODY_CASES mutated bodies per operation, sent four at a time (the server runs
    several requests at once; the cases are independent): no 5xx, every refusal Harbor's
    error. A failure names the seed, the operation and the body, to send again."""
    rnd = random.Random(FUZZ_SEED)
    cases = [
        (method, path, mutate(body, rnd))
        for method, path, body in second_wave
        for _ in range(BODY_CASES)
    ]
    headers = {"Authorization": BASIC, "Content-Type": "application/json"}

    def send(case: tuple[str, str, bytes]) -> str | None:
        method, path, body = case
        with httpx.Client(base_url=fuzz_stack.url, headers=headers, timeout=60) as client:
            answer = client.request(method, f"/api/v2.0{path}", content=body)
        problem = _harbor_error(answer, path)
        return f"{method} {path} {body[:400]!r}: {problem}" if problem else None

    with ThreadPoolExecutor(max_workers=4) as pool:
        failures = [f for f in pool.map(send, cases) if f]
    COUNTS["second-wave bodies"] += len(cases)
    assert not failures, f"seed {FUZZ_SEED}, {len(failures)} failed:\n" + "\n".join(failures)


# --- the registry protocol ------------------------------------------------------------


def _oci_shaped(response: httpx.Response, what: str) -> None:
    assert response.status_code < 500, f"{what}: {response.status_code} {response.text[:300]}"
    if response.status_code < 400 or not response.content:
        return
    try:
        body = response.json()
    except ValueError:
        raise AssertionError(
            f"{what}: {response.status_code} not JSON: {response.text[:300]}"
        ) from None
    errors = body.get("errors") if isinstance(body, dict) else None
    assert isinstance(errors, list) and errors, f"{what}: {body}"
    for error in errors:
        assert error.get("code") in OCI_CODES and isinstance(error.get("message"), str), (
            f"{what}: {body}"
        )


@pytest.fixture(scope="module")
def registry(fuzz_stack: Instance) -> Iterator[tuple[httpx.Client, dict[str, str], dict]]:
    """A client with a token for fuzz/app (pull, push, delete) and the catalog, and a pushed
    image whose blobs the manifests below may name."""
    token = fuzz_stack.token(
        ["repository:fuzz/app:pull,push,delete", "registry:catalog:*"],
        auth=("admin", ADMIN_PASSWORD),
    )["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=fuzz_stack.url, timeout=30) as client:
        blobs = {}
        for data in (b'{"architecture":"amd64","os":"linux","rootfs":{}}', os.urandom(300)):
            digest = "sha256:" + hashlib.sha256(data).hexdigest()
            started = client.post("/v2/fuzz/app/blobs/uploads/", headers=bearer)
            assert started.status_code == 202, started.text
            location = httpx.URL(started.headers["Location"]).copy_merge_params({"digest": digest})
            assert client.put(location, content=data, headers=bearer).status_code == 201
            blobs[digest] = len(data)
        config, layer = list(blobs.items())
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {
                "mediaType": "application/vnd.oci.image.config.v1+json",
                "digest": config[0],
                "size": config[1],
            },
            "layers": [
                {
                    "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                    "digest": layer[0],
                    "size": layer[1],
                }
            ],
        }
        put = client.put(
            "/v2/fuzz/app/manifests/v1",
            content=json.dumps(manifest),
            headers={**bearer, "Content-Type": manifest["mediaType"]},
        )
        assert put.status_code == 201, put.text
        yield client, bearer, manifest


DIGESTS = st.one_of(
    st.text(max_size=80),
    st.from_regex(r"\Asha(256|512|1|):[a-fA-F0-9]{0,130}\Z"),
    st.just("sha256:" + "0" * 64),
)
NAMES = st.one_of(
    st.from_regex(r"\A[a-zA-Z0-9._/-]{1,300}\Z"),
    st.text(min_size=1, max_size=60).map(lambda s: "fuzz/" + s),
)
SIZES = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True),
    st.text(max_size=5),
    st.none(),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _descriptor(base: dict) -> Any:
    return st.fixed_dictionaries(
        {},
        optional={
            "mediaType": st.one_of(st.just(base["mediaType"]), st.text(max_size=40), JSON),
            "digest": st.one_of(st.just(base["digest"]), DIGESTS, JSON),
            "size": st.one_of(st.just(base["size"]), SIZES),
            "urls": st.one_of(st.lists(st.text(max_size=30), max_size=2), JSON),
            "annotations": JSON,
        },
    )


def _manifests(manifest: dict) -> Any:
    mutated = st.fixed_dictionaries(
        {"schemaVersion": st.one_of(st.just(2), JSON)},
        optional={
            "mediaType": st.sampled_from(
                [
                    manifest["mediaType"],
                    "application/vnd.oci.image.index.v1+json",
                    "application/vnd.docker.distribution.manifest.v2+json",
                    "text/plain",
                ]
            ),
            "config": st.one_of(_descriptor(manifest["config"]), JSON),
            "layers": st.one_of(st.lists(_descriptor(manifest["layers"][0]), max_size=3), JSON),
            "manifests": st.one_of(st.lists(_descriptor(manifest["config"]), max_size=3), JSON),
            "subject": st.one_of(_descriptor(manifest["config"]), JSON),
            "annotations": JSON,
            "artifactType": JSON,
        },
    ).map(lambda doc: json.dumps(doc).encode())
    nested = st.integers(min_value=1, max_value=200_000).map(
        lambda depth: b'{"schemaVersion": 2, "layers": ' + b"[" * depth + b"]" * depth + b"}"
    )
    return st.one_of(mutated, JSON.map(lambda doc: json.dumps(doc).encode()), st.binary(), nested)


def test_registry_manifest_puts(registry: tuple) -> None:
    client, bearer, manifest = registry

    @settings(SETTINGS, max_examples=REGISTRY_EXAMPLES)
    @given(
        body=_manifests(manifest),
        content_type=st.sampled_from(
            [
                "application/vnd.oci.image.manifest.v1+json",
                "application/vnd.oci.image.index.v1+json",
                "application/vnd.docker.distribution.manifest.v2+json",
                "",
                "application/json; charset=utf-8",
            ]
        ),
        reference=st.one_of(st.just("fuzzed"), DIGESTS.filter(lambda d: "/" not in d)),
    )
    def put(body: bytes, content_type: str, reference: str) -> None:
        COUNTS["registry manifests"] += 1
        headers = {**bearer, "Content-Type": content_type} if content_type else bearer
        path = f"/v2/fuzz/app/manifests/{_segment(reference)}"
        _oci_shaped(client.put(path, content=body, headers=headers), f"PUT {path}")

    put()


def _segment(value: str) -> str:
    return quote(value, safe="")


def test_registry_digests_names_and_paging(registry: tuple) -> None:
    client, bearer, _ = registry

    @settings(SETTINGS, max_examples=REGISTRY_EXAMPLES)
    @given(
        digest=DIGESTS,
        name=NAMES,
        n=st.one_of(st.integers(min_value=-(2**70), max_value=2**70).map(str), st.text(max_size=8)),
        last=st.text(max_size=40),
        method=st.sampled_from(["GET", "HEAD", "DELETE"]),
    )
    def probe(digest: str, name: str, n: str, last: str, method: str) -> None:
        COUNTS["registry paths"] += 1
        segment = _segment(digest)
        for path in (
            f"/v2/fuzz/app/blobs/{segment}",
            f"/v2/fuzz/app/manifests/{segment}",
            f"/v2/fuzz/app/referrers/{segment}",
        ):
            response = client.request(method, path, headers=bearer)
            _oci_shaped(response, f"{method} {path}")
        quoted = "/".join(_segment(part) for part in name.split("/"))
        for path in (f"/v2/{quoted}/tags/list", f"/v2/{quoted}/manifests/v1"):
            _oci_shaped(client.get(path, headers=bearer), f"GET {path}")
        params = {"n": n, "last": last}
        for path in ("/v2/fuzz/app/tags/list", "/v2/_catalog"):
            _oci_shaped(client.get(path, params=params, headers=bearer), f"GET {path} {params}")

    probe()


def test_registry_upload_ranges(registry: tuple) -> None:
    client, bearer, _ = registry

    @settings(SETTINGS, max_examples=REGISTRY_EXAMPLES // 3)
    @given(
        content_range=st.one_of(
            st.text(max_size=30),
            st.tuples(st.integers(-5, 2**66), st.integers(-5, 2**66)).map(
                lambda r: f"{r[0]}-{r[1]}"
            ),
        ),
        body=st.binary(max_size=64),
        digest=DIGESTS,
    )
    def upload(content_range: str, body: bytes, digest: str) -> None:
        COUNTS["registry uploads"] += 1
        started = client.post("/v2/fuzz/app/blobs/uploads/", headers=bearer)
        _oci_shaped(started, "POST upload")
        location = started.headers["Location"]
        headers = {**bearer, "Content-Type": "application/octet-stream"}
        if content_range.isascii() and content_range.isprintable():
            headers["Content-Range"] = content_range
        patched = client.patch(location, content=body, headers=headers)
        _oci_shaped(patched, f"PATCH upload Content-Range={content_range!r}")
        url = httpx.URL(patched.headers.get("Location", location)).copy_merge_params(
            {"digest": digest}
        )
        _oci_shaped(client.put(url, headers=bearer), f"PUT upload digest={digest!r}")

    upload()


def test_the_fuzzed_instance_still_serves(fuzz_stack: Instance, registry: tuple) -> None:
    """After the run: the admin still logs in and the pushed image is still there."""
    with fuzz_stack.client() as api:
        assert api.get("/api/v2.0/users/current").status_code == 200
        artifact = api.get("/api/v2.0/projects/fuzz/repositories/app/artifacts/v1")
        assert artifact.status_code == 200, artifact.text
