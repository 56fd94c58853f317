"""How each process of a deployment runs: one command line per role, used by the embedded
run (deploy/supervisord.conf, rendered by `manage.py platform prepare`) and by
`manage.py serve <role>` (compose services, HA nodes), so the two cannot drift apart."""

from __future__ import annotations

import re
import shlex
import socket
import sys
from collections.abc import Mapping
from pathlib import Path

from harbor_py.core import env
from harbor_py.core.runtime import Runtime
from harbor_py.topology import load_topology

ROLES = ("nginx", "registry", "web", "worker", "beat", "scanner")


def node_name() -> str:
    return env.get("HARBOR_NODE_NAME") or socket.gethostname()


# Background jobs (webhook deliveries, GC, replication, scans) yield the CPU to the data
# path (nginx, distribution, gunicorn) where they share cores: docs/deployment.md says
# what it costs them, docs/webhooks.md ("Figures") what it gives pushes.
DEFAULT_WORKER_NICE = 10


def worker_niceness() -> int:
    """HARBOR_WORKER_NICE (0-19; 0: the worker runs at the data path's priority)."""
    value = env.get("HARBOR_WORKER_NICE", str(DEFAULT_WORKER_NICE))
    try:
        nice = int(value)
    except ValueError:
        nice = -1
    if not 0 <= nice <= 19:
        raise ValueError(f"HARBOR_WORKER_NICE {value!r} is not a niceness from 0 to 19")
    return nice


def role_argv(role: str, rt: Runtime, config_dir: Path, *, node: str) -> list[str]:
    """The command line of a role; nginx and registry read their config from config_dir,
    `node` names the Celery worker."""
    topology = load_topology(rt)
    bin_dir = Path(sys.executable).parent
    if role == "nginx":
        config = config_dir / "nginx.conf"
        return ["/usr/sbin/nginx", "-c", str(config), "-p", str(rt.data_dir), "-g", "daemon off;"]
    if role == "registry":
        return ["/usr/bin/docker-registry", "serve", str(config_dir / "registry.yml")]
    if role == "web":
        return web_argv(topology.web_bind, bin_dir)
    if role == "worker":
        concurrency = env.get("HARBOR_WORKER_CONCURRENCY", "2")
        nice = worker_niceness()
        return [
            *(["/usr/bin/nice", "-n", str(nice)] if nice > 0 else []),
            str(bin_dir / "celery"),
            *("-A", "harbor_py", "worker", "--loglevel", "INFO"),
            *("--concurrency", concurrency, "-n", f"harbor-{node}@%h"),
        ]
    if role == "scanner":
        # The built-in scanner (scanner/adapter.py): one process, so that its scan pool
        # and the jobs it recovers at start are this node's; threads answer the polls.
        listen = env.get("HARBOR_SCANNER_LISTEN", f"127.0.0.1:{rt.port + 1}")
        return [
            str(bin_dir / "gunicorn"),
            "scanner.wsgi:application",
            *("--bind", listen, "--workers", "1", "--threads", "4"),
            *("--worker-class", "gthread", "--timeout", "120"),
        ]
    if role == "beat":
        return [
            str(bin_dir / "celery"),
            "-A",
            "harbor_py",
            "beat",
            "--loglevel",
            "INFO",
            "--pidfile=",
        ]
    raise ValueError(f"unknown role {role}")


WEB_SERVERS = ("granian", "gunicorn")
WEB_THREADS = "8"  # per worker process: requests that wait (on distribution, PostgreSQL) at once
GRANIAN_SERVE = "harbor_py.ops.granian_serve"
GRANIAN_LOGGING = Path(__file__).resolve().parent / "ops" / "granian_logging.json"


def web_argv(bind: str, bin_dir: Path) -> list[str]:
    """The `core` program: harbor_py.wsgi's application under granian (a Rust HTTP server;
    about a fifth less CPU per registry request than gunicorn's Python request handling,
    docs/performance-gate.md) or, with HARBOR_WEB_SERVER=gunicorn, under gunicorn."""
    server = env.get("HARBOR_WEB_SERVER", "granian")
    workers = env.get("HARBOR_WEB_WORKERS", "2")
    if server == "gunicorn":
        # JSON logs and metrics from harbor_py/ops/gunicorn_conf.py.
        return [
            str(bin_dir / "gunicorn"),
            "harbor_py.wsgi:application",
            *("-c", "python:harbor_py.ops.gunicorn_conf"),
            *("--bind", bind),
            *("--worker-class", "gthread"),
            *("--workers", workers),
            *("--threads", WEB_THREADS, "--keep-alive", "75"),
        ]
    if server != "granian":
        raise ValueError(f"HARBOR_WEB_SERVER {server!r} is not one of {', '.join(WEB_SERVERS)}")
    return [
        str(bin_dir / "python"),
        *("-m", GRANIAN_SERVE),
        *("--interface", "wsgi", "--http", "1", "--no-ws"),
        *granian_bind(bind),
        *("--workers", workers, "--blocking-threads", WEB_THREADS),
        # a worker that dies is replaced, as gunicorn's arbiter does
        "--respawn-failed-workers",
        *("--log-config", str(GRANIAN_LOGGING)),
        # each worker calls it after the fork; the main process has loaded the module
        *("--factory", "harbor_py.granian_app:worker_application"),
    ]


def granian_bind(bind: str) -> list[str]:
    """granian's options for a gunicorn-style bind address: unix:/path or host:port."""
    if bind.startswith("unix:"):
        return ["--uds", bind.removeprefix("unix:"), "--uds-permissions", "0660"]
    host, sep, port = bind.rpartition(":")
    if not sep or not port.isdigit():
        raise ValueError(f"HARBOR_WEB_BIND {bind!r} is not host:port or unix:/path")
    return ["--host", host.strip("[]") or "0.0.0.0", "--port", port]


# distribution's Go garbage collector. At Go's default (GOGC=100) it took a fifth of
# distribution's CPU in the tiny-image push bench; at 400 distribution used 15-21% less CPU
# per image and pushes ran 3-8.5% faster (docs/architecture.md). The heap may then grow to five
# times the live data instead of twice: tens of MB with filesystem storage; GOMEMLIMIT
# caps it where many concurrent uploads buffer S3 chunks in memory.
_GO_GC = re.compile(r"off|[1-9][0-9]{0,5}")
_GO_MEMORY = re.compile(r"off|[1-9][0-9]{0,15}(B|KiB|MiB|GiB|TiB)?")


def role_environment(role: str) -> dict[str, str]:
    """What a role's process gets on top of the inherited environment. Raises ValueError
    for a setting that the process would not understand."""
    if role != "registry":
        return {}
    gogc = env.get("HARBOR_REGISTRY_GOGC", "400")
    memory_limit = env.get("HARBOR_REGISTRY_GOMEMLIMIT", "1GiB")
    if not _GO_GC.fullmatch(gogc):
        raise ValueError(f"HARBOR_REGISTRY_GOGC {gogc!r} is not a percentage (e.g. 400) or off")
    if not _GO_MEMORY.fullmatch(memory_limit):
        raise ValueError(
            f"HARBOR_REGISTRY_GOMEMLIMIT {memory_limit!r} is not a size (e.g. 1GiB, 512MiB) or off"
        )
    return {"GOGC": gogc, "GOMEMLIMIT": memory_limit}


# distribution 2.8's s3 driver panics at start when AWS_CA_BUNDLE is set (its HTTP client
# has a transport the AWS SDK cannot add a CA to): its process never gets these.
REGISTRY_DROPPED_ENVIRONMENT = ("AWS_CA_BUNDLE",)


def process_environment(role: str, inherited: Mapping[str, str]) -> dict[str, str]:
    """The whole environment `serve <role>` execs its program with."""
    environment = {**inherited, **role_environment(role)}
    if role == "registry":
        for name in REGISTRY_DROPPED_ENVIRONMENT:
            environment.pop(name, None)
    return environment


def supervisor_environment(values: dict[str, str]) -> str:
    """supervisord's `environment=` format: KEY="value",... with % doubled."""
    return ",".join(f'{k}="{v.replace("%", "%%")}"' for k, v in sorted(values.items()))


def supervisor_commands(rt: Runtime) -> dict[str, str]:
    """The embedded run's `command=` lines: its Celery worker is named after the port, so
    that two instances on one host never share a name; `%` doubled for supervisord."""
    return {
        role: shlex.join(role_argv(role, rt, rt.config_dir, node=str(rt.port))).replace("%", "%%")
        for role in ROLES
    }
