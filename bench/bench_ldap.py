"""Token latency for a directory user in 50 groups (issue 4): GET /service/token through
nginx and gunicorn of a whole instance under ldap_auth, against a real slapd.

    .venv/bin/python -m bench.bench_ldap [--requests 40]

The user `busy` of tests.ldap_server's OpenLDAP directory is in 50 groups, each onboarded
as an LDAP user group with the Developer role in a project of its own; every request asks
for push and pull in one of those projects. Measured, as medians (and p90) over
--requests requests, each with its own HTTP connection as a skopeo process would:
  first        the first login: directory search + bind, group resolution, onboarding
  cached       the usual case: the credential cache answers (no directory round trip)
  groups only  the login is asked of the directory again, the group list comes from cache
  directory    nothing cached: search, bind, nested group resolution, group links synced
  local admin  the local admin's cached password check, for comparison
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import redis

from tests.ldap_server import BUSY_GROUPS, running_slapd
from tests.stack import ADMIN_PASSWORD, Instance, running_instance

ADMIN = ("admin", ADMIN_PASSWORD)
BUSY = ("busy", "BusyPass1")


def prepare(stack: Instance, directory_settings: dict[str, object]) -> None:
    with stack.client() as api:
        settings = {"auth_mode": "ldap_auth", **directory_settings}
        api.put("/api/v2.0/configurations", json=settings).raise_for_status()
        for i in range(1, BUSY_GROUPS + 1):
            name = f"team{i:02d}"
            dn = f"cn={name},ou=groups,dc=example,dc=org"
            created = api.post("/api/v2.0/usergroups", json={"group_type": 1, "ldap_group_dn": dn})
            created.raise_for_status()
            group_id = int(created.headers["Location"].rsplit("/", 1)[1])
            stack.create_project(name)
            api.post(
                f"/api/v2.0/projects/{name}/members",
                json={"role_id": 2, "member_group": {"id": group_id}},
            ).raise_for_status()


def token_seconds(stack: Instance, creds: tuple[str, str], project: str) -> float:
    params = {"service": "harbor-registry", "scope": f"repository:{project}/app:pull,push"}
    with httpx.Client(base_url=stack.url, auth=creds, trust_env=False, timeout=30) as client:
        started = time.perf_counter()
        response = client.get("/service/token", params=params)
        elapsed = time.perf_counter() - started
    response.raise_for_status()
    return elapsed


def forget(store: redis.Redis, *patterns: str) -> None:
    for pattern in patterns:
        for key in store.scan_iter(match=f"*{pattern}*"):
            store.delete(key)


def measure(count: int, run: Callable[[int], float], before: Callable[[], None]) -> list[float]:
    out = []
    for i in range(count):
        before()
        out.append(run(i))
    return out


def summary(label: str, values: list[float]) -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    median = statistics.median(values)
    return (
        f"{label:<12} median {median * 1000:7.1f} ms   p90 {p90 * 1000:7.1f} ms   n={len(values)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=40)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-ldap-") as tmp:
        root = Path(tmp)
        with running_slapd(root / "slapd") as directory, running_instance(root / "hp") as stack:
            print(f"preparing: {BUSY_GROUPS} user groups and projects", file=sys.stderr)
            prepare(stack, directory.harbor_settings())
            store = redis.Redis(unix_socket_path=str(root / "hp" / "run" / "redis.sock"))

            def busy(i: int) -> float:
                return token_seconds(stack, BUSY, f"team{i % BUSY_GROUPS + 1:02d}")

            def nothing() -> None:
                return None

            first = [busy(0)]
            cached = measure(args.requests, busy, nothing)
            groups_only = measure(args.requests, busy, lambda: forget(store, "ldapcred:"))
            cold = measure(args.requests, busy, lambda: forget(store, "ldapcred:", "ldapgroups:"))
            local = measure(args.requests, lambda i: token_seconds(stack, ADMIN, "team01"), nothing)
    print(f"GET /service/token, user in {BUSY_GROUPS} LDAP groups (push+pull in one project)")
    print(summary("first", first))
    print(summary("cached", cached))
    print(summary("groups only", groups_only))
    print(summary("directory", cold))
    print(summary("local admin", local))


if __name__ == "__main__":
    main()
