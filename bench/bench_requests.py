"""Per-request CPU benchmark: what each registry request costs each component, one at a time.

    .venv/bin/python -m bench.bench_requests                 # defaults: ~1 min on a 2-core box
    .venv/bin/python -m bench.bench_requests --requests 50   # a quick look

Starts tests.stack.Instance (PostgreSQL, the platform as `make up` runs it) and sends, on one
keep-alive connection and one request at a time (after --warmup requests, not counted):

  ping           GET /v2/ without credentials (the 401 challenge every client starts with)
  token          GET /service/token, Basic admin, a push scope (the credential cache is warm)
  token, member  the same for a user who is a Developer of the project
  token, robot   the same for a project robot account with pull and push (how CI logs in)
  blob HEAD      HEAD of a blob nobody pushed (404), with a push token
  manifest PUT   a new tag of a new one-layer image (its blobs uploaded beforehand, straight
                 to distribution through nginx, not counted)
  manifest GET   GET of a tag

and, as bench/bench.py's tiny images do, whole one-layer image pushes with the client's
requests only (ping, token, three blob HEADs, two blob uploads, manifest PUT):

  image, warm    every image on one connection, one repository and one token
  image, new     every image from a new connection, to a new repository, with a new token
                 (what each skopeo process does)

For each it prints the CPU time per request (ms, from /proc) of gunicorn, PostgreSQL,
distribution, nginx, redis, Celery and supervisord, and the wall time per request. tests/
bench.py measures throughput under load; this one says where a single request's CPU goes.

Results: a table on stdout and JSON in data/bench/requests.json (--out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import secrets
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import httpx

from bench.bench import ADMIN, PROJECT, Topology, log, process_table
from tests.stack import REPO_ROOT, Instance

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
_T = TypeVar("_T")
COMPONENTS = (
    "gunicorn",
    "granian",
    "postgres",
    "distribution",
    "nginx",
    "redis",
    "celery",
    "supervisord",
)


class Client:
    """The registry requests of a push, on one httpx connection."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, timeout=60)

    def close(self) -> None:
        self.http.close()

    def ping(self) -> None:
        assert self.http.get("/v2/").status_code == 401

    def token(self, repository: str, auth: tuple[str, str] = ADMIN) -> dict[str, str]:
        response = self.http.get(
            "/service/token",
            params={"service": "harbor-registry", "scope": f"repository:{repository}:pull,push"},
            auth=auth,
        )
        response.raise_for_status()
        return {"Authorization": f"Bearer {response.json()['token']}"}

    def head_blob(self, repository: str, digest: str, auth: dict[str, str]) -> int:
        return self.http.head(f"/v2/{repository}/blobs/{digest}", headers=auth).status_code

    def upload(self, repository: str, data: bytes, auth: dict[str, str]) -> str:
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        started = self.http.post(f"/v2/{repository}/blobs/uploads/", headers=auth)
        assert started.status_code == 202, started.text
        location = httpx.URL(self.base).join(started.headers["Location"])
        done = self.http.put(
            location.copy_merge_params({"digest": digest}),
            content=data,
            headers={**auth, "Content-Type": "application/octet-stream"},
        )
        assert done.status_code == 201, done.text
        return digest

    def image(self, repository: str, auth: dict[str, str]) -> bytes:
        """Upload a new one-layer image's blobs (HEAD first, as clients do); its manifest."""
        layer = secrets.token_bytes(4096)
        layer_digest = "sha256:" + hashlib.sha256(layer).hexdigest()
        config = json.dumps(
            {
                "architecture": "amd64",
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [layer_digest]},
                "history": [{"created_by": secrets.token_hex(8)}],
            }
        ).encode()
        config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
        for digest in (layer_digest, config_digest, layer_digest):
            assert self.head_blob(repository, digest, auth) == 404
        self.upload(repository, layer, auth)
        self.upload(repository, config, auth)
        return json.dumps(
            {
                "schemaVersion": 2,
                "mediaType": OCI_MANIFEST,
                "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": len(config)},
                "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": len(layer)}],
            }
        ).encode()

    def put_manifest(self, repository: str, tag: str, body: bytes, auth: dict[str, str]) -> None:
        response = self.http.put(
            f"/v2/{repository}/manifests/{tag}",
            content=body,
            headers={**auth, "Content-Type": OCI_MANIFEST},
        )
        assert response.status_code == 201, response.text

    def get_manifest(self, repository: str, tag: str, auth: dict[str, str]) -> None:
        response = self.http.get(
            f"/v2/{repository}/manifests/{tag}", headers={**auth, "Accept": OCI_MANIFEST}
        )
        assert response.status_code == 200, response.text


def measure(topo: Topology, run: Callable[[int], None], count: int, warmup: int) -> dict:
    """CPU ms per call of each component, and wall ms per call, over `count` calls."""
    for k in range(warmup):
        run(-1 - k)
    before = topo.cpu_by_component(process_table())
    started = time.perf_counter()
    for k in range(count):
        run(k)
    wall = time.perf_counter() - started
    after = topo.cpu_by_component(process_table())
    cpu = {name: (after.get(name, 0.0) - before.get(name, 0.0)) * 1000 / count for name in after}
    return {"wall_ms": wall * 1000 / count, "cpu_ms": cpu}


def credentials(topo: Topology) -> tuple[tuple[str, str], tuple[str, str]]:
    """A Developer of the project and a project robot with pull and push."""
    instance = topo.instance
    assert instance is not None
    password = "Bench-member-1"
    instance.create_user("bench-member", password)
    instance.add_member(PROJECT, "bench-member", 2)  # Developer
    with instance.client() as api:
        access = [{"resource": "repository", "action": a} for a in ("pull", "push")]
        response = api.post(
            "/api/v2.0/robots",
            json={
                "name": "bench-ci",
                "level": "project",
                "duration": -1,
                "permissions": [{"kind": "project", "namespace": PROJECT, "access": access}],
            },
        )
        response.raise_for_status()
        robot = response.json()
    return ("bench-member", password), (robot["name"], robot["secret"])


def run_cases(topo: Topology, args: argparse.Namespace) -> dict[str, dict]:
    client = Client(topo.url)
    repository = f"{PROJECT}/requests"
    auth = client.token(repository)
    results: dict[str, dict] = {}

    def case(name: str, run: Callable[[int], None], count: int) -> None:
        log(f"measuring {name} ({count} requests)")
        results[name] = measure(topo, run, count, args.warmup)

    def token(k: int) -> None:
        client.token(repository)

    def head(k: int) -> None:
        assert client.head_blob(repository, "sha256:" + secrets.token_hex(32), auth) == 404

    case("ping", lambda k: client.ping(), args.requests)
    case("token", token, args.requests)
    member, robot = credentials(topo)
    case("token, member", lambda k: client.token(repository, member), args.requests)
    case("token, robot", lambda k: client.token(repository, robot), args.requests)
    case("blob HEAD", head, args.requests)
    manifests = [client.image(repository, auth) for _ in range(args.requests + args.warmup)]
    case(
        "manifest PUT",
        lambda k: client.put_manifest(repository, f"t{k + args.warmup}", manifests[k], auth),
        args.requests,
    )
    case("manifest GET", lambda k: client.get_manifest(repository, "t0", auth), args.requests)

    def push(client: Client, name: str, auth: dict[str, str] | None) -> None:
        client.ping()
        token = auth or client.token(name)
        client.put_manifest(name, "v1", client.image(name, token), token)

    warm = f"{PROJECT}/warm"
    warm_auth = client.token(warm)
    images = max(args.requests // 4, 10)
    case("image, warm", lambda k: push(client, warm, warm_auth), images)

    def new_client_push(k: int) -> None:
        fresh = Client(topo.url)
        try:
            push(fresh, f"{PROJECT}/new-{k + args.warmup}-{secrets.token_hex(3)}", None)
        finally:
            fresh.close()

    case("image, new", new_client_push, images)
    client.close()
    return results


def report(results: dict[str, dict]) -> str:
    header = f"{'request':<14}{'wall ms':>9}  " + "".join(f"{c:>13}" for c in COMPONENTS)
    lines = ["CPU ms per request (one at a time), by component", header, "-" * len(header)]
    for name, result in results.items():
        cpu = result["cpu_ms"]
        lines.append(
            f"{name:<14}{result['wall_ms']:>9.2f}  "
            + "".join(f"{cpu.get(c, 0.0):>13.2f}" for c in COMPONENTS)
        )
    return "\n".join(lines)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        epilog=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--requests", type=int, default=300, help="requests per kind (300)")
    parser.add_argument("--warmup", type=int, default=20, help="uncounted requests first (20)")
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "data" / "bench" / "requests.json")
    return parser.parse_args(argv)


def on_new_instance(prefix: str, work: Callable[[Topology], _T]) -> _T:
    """Run `work` on a harbor-py instance started for it (and stopped after)."""
    with tempfile.TemporaryDirectory(prefix=prefix) as workdir:
        topo = Topology(name="ours", workdir=Path(workdir))
        topo.instance = Instance(data_dir=Path(workdir) / "data", port=topo.port)
        log(f"starting harbor-py on {topo.host}")
        topo.start()
        try:
            return work(topo)
        finally:
            topo.stop()


def publish(text: str, results: dict, out: Path) -> None:
    """Print the table and write the results as JSON."""
    print(text)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2))
    print(f"results: {out}")


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    def work(topo: Topology) -> dict[str, dict]:
        assert topo.instance is not None
        topo.instance.create_project(PROJECT, public=False)
        return run_cases(topo, args)

    results = on_new_instance("harbor-bench-requests-", work)
    publish(report(results), results, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
