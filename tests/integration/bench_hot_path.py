"""Where the web server's CPU goes on a tiny push, in-process (#31): the application granian
serves (access lines, the dispatcher, the registry paths' handler) called as granian calls
it. Not collected by `make test`; run it explicitly (it starts the unit tests' real
distribution):

    .venv/bin/python -m pytest tests/integration/bench_hot_path.py -s -q

  hot path      a one-layer push as skopeo makes it (token, a HEAD of each new blob, the
                uploads straight to distribution, the manifest PUT), 40 images per round,
                three rounds: this process's CPU per request kind and per image.
                HOT_PATH_PROFILE=<prefix> also writes a cProfile of each kind to
                <prefix>.token, <prefix>.HEAD and <prefix>.PUT
  layers        a blob HEAD (404, the token already verified) through the application,
                through the registry handler, through Django's handler with no middleware,
                and the view alone, interleaved rounds of 2,000
  middleware    the same HEAD through the registry handler without each of its middleware
                classes in turn

In-process figures have warm caches: in the server, under the push load, the same code
costs two to three times as much (docs/performance-gate.md, "session 15", from the access
lines' cpu_ms).
"""

from __future__ import annotations

import cProfile
import os
import statistics
import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import pytest
from django.core.handlers.wsgi import WSGIHandler, WSGIRequest

from accounts.tokens import Scope, mint
from harbor_py.middleware import registry_middleware_paths
from harbor_py.ops.access_log import AccessLogged
from harbor_py.wsgi import RegistryHandler, application
from registry.v2_views import blob_head
from tests.integration.test_push_statements import client_push
from tests.wsgi_environ import environ

pytestmark = pytest.mark.django_db(transaction=True)
pytest_plugins = ["tests.distribution_plugin"]
IMAGES = 40
ROUNDS = 3
KINDS = ("token", "blob HEAD", "manifest PUT")
DIGEST = "sha256:" + "a" * 64

served = AccessLogged(application)
Costs = dict[str, list[float]]


def _measure(costs: Costs, profilers: dict[str, cProfile.Profile]) -> Callable[..., Any]:
    """test_push_statements.client_push's `measure`: this process's CPU per request kind."""

    def measure(name: str, method: str, path: str, **kwargs: Any) -> tuple[int, bytes]:
        kind = "blob HEAD" if name.startswith("HEAD") else name
        statuses: list[str] = []
        env = environ(method, path, **kwargs)
        profiler = profilers.get(kind)
        if profiler:
            profiler.enable()
        started = time.process_time()
        body = served(env, lambda status, headers, exc_info=None: statuses.append(status))
        content = b"".join(body)
        costs[kind].append(time.process_time() - started)
        if profiler:
            profiler.disable()
        return int(statuses[0].split()[0]), content

    measure.costs = {}  # type: ignore[attr-defined]  # client_push returns it
    return measure


def _push(costs: Costs, profilers: dict[str, cProfile.Profile], repository: str) -> None:
    client_push(_measure(costs, profilers), "admin", repository)


def test_hot_path(distribution, make_user, make_project) -> None:
    make_user("admin", sysadmin=True)
    make_project("bench")
    for i in range(5):  # connections, prepared statements, caches
        _push(defaultdict(list), {}, f"bench/warm{i}")
    prefix = os.environ.get("HOT_PATH_PROFILE")
    profilers = {kind: cProfile.Profile(time.process_time) for kind in KINDS} if prefix else {}
    rounds: Costs = defaultdict(list)
    for r in range(ROUNDS):
        costs: Costs = defaultdict(list)
        for i in range(IMAGES):
            _push(costs, profilers, f"bench/r{r}i{i}")
        for kind, values in costs.items():
            rounds[kind].append(statistics.mean(values) * 1000)
        rounds["image"].append(sum(map(sum, costs.values())) * 1000 / IMAGES)
    for kind, values in rounds.items():
        print(f"\n{kind:<13} ms CPU, mean per round: " + ", ".join(f"{v:.3f}" for v in values))
    for kind, profiler in profilers.items():
        profiler.dump_stats(f"{prefix}.{kind.split()[-1]}")


def _loop(app: Callable[..., Any], token: str, count: int) -> float:
    """µs of this process's CPU per blob HEAD."""
    started = time.process_time()
    for _ in range(count):
        env = environ("HEAD", f"/v2/bench/r/blobs/{DIGEST}", authorization=f"Bearer {token}")
        body = app(env, lambda status, headers, exc_info=None: None)
        b"".join(body)
        if close := getattr(body, "close", None):
            close()
    return (time.process_time() - started) * 1e6 / count


def _report(apps: dict[str, Callable[..., Any]], token: str) -> None:
    results: Costs = defaultdict(list)
    for _ in range(ROUNDS):  # interleaved: the machine's load moves between rounds
        for name, app in apps.items():
            results[name].append(_loop(app, token, 2000))
    for name, values in results.items():
        print(f"\nblob HEAD, {name:<44} median {statistics.median(values):6.1f} µs")


def _head_token(make_project) -> str:
    make_project("bench")
    token, _, _ = mint("admin", [Scope("repository", "bench/r", frozenset({"pull", "push"}))])
    return token


def test_layers(make_project, settings) -> None:
    token = _head_token(make_project)
    everything = settings.MIDDLEWARE
    settings.MIDDLEWARE = []
    bare = WSGIHandler()
    settings.MIDDLEWARE = everything

    def view(env: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        return blob_head(WSGIRequest(env), "bench/r", DIGEST)

    apps = {
        "the application": served,
        "the registry handler": RegistryHandler(),
        "Django's handler, no middleware": bare,
        "the view": view,
    }
    _report(apps, token)


def test_middleware(make_project, settings) -> None:
    token = _head_token(make_project)
    apps: dict[str, Callable[..., Any]] = {"the registry handler": RegistryHandler()}
    everything = settings.MIDDLEWARE
    for dotted in registry_middleware_paths():
        settings.MIDDLEWARE = [d for d in everything if d != dotted]
        apps["without " + dotted.rsplit(".", 1)[-1]] = RegistryHandler()
    settings.MIDDLEWARE = everything
    _report(apps, token)
