"""Start and drive whole harbor-py instances for end-to-end tests and benchmarks.

Each instance is what `make up` starts (nginx, distribution, gunicorn, Celery worker and
beat, a private redis-server), on a free port with its own data directory and database.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCKER_REGISTRY = "/usr/bin/docker-registry"
ADMIN_PASSWORD = "Harbor12345"
PG_DSN = os.environ.get("HARBOR_TEST_PG", "postgres://postgres@127.0.0.1:5432/postgres")


def database_url(name: str) -> str:
    return PG_DSN.rsplit("/", 1)[0] + f"/{name}"


# The worker's niceness of the instances started here; None: the deployed default (the
# benches). The test suite sets "0" (tests/conftest.py): the test machine runs other
# suites' instances at once, and a niced worker would wait for their CPU, not its own data
# path's, slowing the jobs the tests wait for for no reason of theirs.
WORKER_NICE: str | None = None


def instance_environment(port: int, data_dir: Path, **extra: str) -> dict[str, str]:
    """This process's environment without its harbor-py settings, plus an instance's."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("HARBOR_", "DATABASE_URL", "REDIS_", "DJANGO_"))
    }
    env.update(
        HARBOR_PORT=str(port),
        HARBOR_DATA_DIR=str(data_dir),
        HARBOR_ADMIN_PASSWORD=ADMIN_PASSWORD,
        **({"HARBOR_WORKER_NICE": WORKER_NICE} if WORKER_NICE is not None else {}),
        **extra,
    )
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def recreate_database(name: str, *, template: str | None = None) -> str:
    """Drop and create a PostgreSQL database (a copy of `template`, if given); return its URL."""
    conn = psycopg.connect(PG_DSN)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        copy = f' TEMPLATE "{template}"' if template else ""
        cursor.execute(f'CREATE DATABASE "{name}"{copy}')
    conn.close()
    return PG_DSN.rsplit("/", 1)[0] + f"/{name}"


def _migrations_key(root: Path) -> str:
    """What decides a migrated schema: the checkout's migration files and the installed
    packages (Django's own apps and django-celery-beat bring migrations too)."""
    digest = hashlib.sha256()
    for path in sorted(root.glob("*/migrations/*.py")):
        digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes())
    packages = sorted(
        f"{d.metadata['Name']}=={d.version}" for d in importlib.metadata.distributions()
    )
    digest.update("\n".join(packages).encode())
    return digest.hexdigest()[:16]


def _database_exists(name: str) -> bool:
    with psycopg.connect(PG_DSN) as conn:
        return (
            conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
            is not None
        )


TEMPLATE_PREFIX = "harbor_e2e_tpl_"
# One connection per process, held until it exits, with a shared advisory lock per
# template the process uses: drop_stale_templates drops only templates nobody holds.
_template_locks: psycopg.Connection | None = None
_held_templates: set[str] = set()


def _template_lock_key(digest: str) -> int:
    return int(digest[:15], 16)  # 60 bits: a PostgreSQL bigint


def _hold_template(digest: str) -> None:
    """Take this process's shared lock on a template; waits while a cleanup drops it."""
    global _template_locks
    if digest in _held_templates:
        return
    if _template_locks is None:
        _template_locks = psycopg.connect(PG_DSN, autocommit=True)
    _template_locks.execute("SELECT pg_advisory_lock_shared(%s)", (_template_lock_key(digest),))
    _held_templates.add(digest)


def drop_stale_templates(keep: str, *, prefix: str = TEMPLATE_PREFIX) -> list[str]:
    """Drop the templates of other migration sets (`prefix` + another digest) and the
    half-built copies (`..._<pid>`) of any, each only while no process holds its digest's
    lock: a concurrent session of other code keeps its template, and one that starts
    meanwhile waits in _hold_template, then builds it again. Returns what was dropped."""
    dropped = []
    with psycopg.connect(PG_DSN, autocommit=True) as conn:
        names = [
            name
            for (name,) in conn.execute(
                "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
            )
        ]
        for name in sorted(names):
            digest, _, builder = name.removeprefix(prefix).partition("_")
            if (digest == keep and not builder) or not re.fullmatch(r"[0-9a-f]{16}", digest):
                continue
            key = _template_lock_key(digest)
            if conn.execute("SELECT pg_try_advisory_lock(%s)", (key,)).fetchone() != (True,):
                continue  # in use, or being built
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
                dropped.append(name)
            except psycopg.errors.ObjectInUse:  # someone is connected to it: leave it
                pass
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (key,))
    return dropped


def migrated_template(root: Path = REPO_ROOT) -> str:
    """A database with every migration of `root` applied, which an instance's database is
    copied from (CREATE DATABASE ... TEMPLATE): `migrate` on an empty database is the
    longest part of starting an instance (47 s of 100 on this machine under load), and
    the suite starts about 30. Made once per set of migrations, by whichever process
    needs it first: migrated under a name of its own, then renamed, so a concurrent
    process never copies a half-migrated one. The instance still runs `migrate` at start
    (`platform up`), which finds nothing to do. A process's first call drops the
    templates of other migration sets that no process uses (drop_stale_templates)."""
    digest = _migrations_key(root)
    name = f"{TEMPLATE_PREFIX}{digest}"
    if _template_locks is None:
        drop_stale_templates(digest)
    _hold_template(digest)
    if _database_exists(name):
        return name
    building = f"{name}_{os.getpid()}"
    with tempfile.TemporaryDirectory(prefix="harbor-tpl-") as data_dir:
        env = instance_environment(free_port(), Path(data_dir))
        env["DATABASE_URL"] = recreate_database(building)
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=root,
            env=env,
            capture_output=True,
            check=True,
            timeout=600,
        )
    conn = psycopg.connect(PG_DSN)
    conn.autocommit = True
    try:
        conn.execute(f'ALTER DATABASE "{building}" RENAME TO "{name}"')
    except psycopg.errors.DuplicateDatabase:  # another process made it meanwhile
        conn.execute(f'DROP DATABASE "{building}" WITH (FORCE)')
    finally:
        conn.close()
    return name


def drop_database(name: str) -> None:
    conn = psycopg.connect(PG_DSN)
    conn.autocommit = True
    with conn.cursor() as cursor:
        cursor.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    conn.close()


@dataclass
class Instance:
    data_dir: Path
    port: int = field(default_factory=free_port)
    database: str | None = "postgres"  # "postgres": a fresh PostgreSQL db; None: SQLite default
    extra_env: dict[str, str] = field(default_factory=dict)
    root: Path = REPO_ROOT  # the checkout whose code runs (bench.bench_ab --a-root)
    # the built-in scanner's loopback port: a free one, not the default HARBOR_PORT + 1
    scanner_port: int = field(default_factory=free_port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def db_name(self) -> str:
        return f"harbor_e2e_{self.port}"

    @property
    def scanner_url(self) -> str:
        return f"http://127.0.0.1:{self.scanner_port}"

    def env(self) -> dict[str, str]:
        scanner = {"HARBOR_SCANNER_LISTEN": f"127.0.0.1:{self.scanner_port}"}
        env = instance_environment(self.port, self.data_dir, **{**scanner, **self.extra_env})
        if self.database == "postgres":
            env["DATABASE_URL"] = database_url(self.db_name)
        return env

    def manage(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=self.root,
            env=self.env(),
            capture_output=True,
            text=True,
            check=check,
            timeout=600,
        )

    def start(self) -> None:
        if self.database == "postgres":
            recreate_database(self.db_name, template=migrated_template(self.root))
        result = self.manage("platform", "up", "--wait", "180", check=False)
        if result.returncode != 0:
            logs = self.logs()
            self.stop()
            raise RuntimeError(
                f"instance failed to start:\n{result.stdout}\n{result.stderr}\n{logs}"
            )

    def stop(self) -> None:
        self.stop_platform()
        if self.database == "postgres":
            with contextlib.suppress(psycopg.Error):
                drop_database(self.db_name)

    def stop_platform(self, timeout: float = 60) -> None:
        """What `platform down` does (test_platform runs that command), faster: no Django
        process to ask supervisord (2-3 s of CPU per instance), and once supervisord has
        begun its shutdown (so that it restarts nothing), every program but Redis is sent
        SIGTERM at once instead of one priority after the other (13 s at load 20, most of
        it waiting on each in turn); Redis stays the last, for the workers' goodbyes."""
        try:
            pid = int((self.data_dir / "run" / "supervisord.pid").read_text())
            if b"supervisord" not in Path(f"/proc/{pid}/cmdline").read_bytes():
                return  # a pid file left behind, its number reused
        except (OSError, ValueError):  # never started, or stopped already
            return
        log = self.data_dir / "logs" / "supervisord.log"
        shutting_down = log.read_text(errors="replace").count(" to die") if log.exists() else 0
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        hurried = False
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _running(pid):
            if not hurried and log.read_text(errors="replace").count(" to die") > shutting_down:
                hurried = True
                _terminate_children(pid, spare=b"redis-server")
            time.sleep(0.1)

    def registry_process(self) -> Path | None:
        """/proc/<pid> of this instance's distribution, if it runs."""
        for proc in Path("/proc").iterdir():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:  # not a process, or it ended
                continue
            if cmdline.startswith(DOCKER_REGISTRY.encode() + b"\0") and (
                str(self.data_dir).encode() in cmdline
            ):
                return proc
        return None

    def logs(self, tail: int = 40) -> str:
        out = []
        for path in sorted((self.data_dir / "logs").glob("*.log")):
            lines = path.read_text(errors="replace").splitlines()[-tail:]
            out.append(f"== {path.name}\n" + "\n".join(lines))
        return "\n".join(out)

    def client(self, auth: tuple[str, str] | None = ("admin", ADMIN_PASSWORD)) -> httpx.Client:
        return httpx.Client(base_url=self.url, auth=auth, timeout=60)

    # -- fixtures through the REST API -------------------------------------------------
    def create_user(self, username: str, password: str = "Passw0rd!x") -> int:
        with self.client() as api:
            response = api.post(
                "/api/v2.0/users",
                json={
                    "username": username,
                    "password": password,
                    "email": f"{username}@example.com",
                    "realname": username,
                },
            )
            response.raise_for_status()
            return int(response.headers["Location"].rsplit("/", 1)[1])

    def create_project(
        self, name: str, *, public: bool = False, auth: tuple[str, str] = ("admin", ADMIN_PASSWORD)
    ) -> int:
        with self.client(auth) as api:
            response = api.post(
                "/api/v2.0/projects",
                json={"project_name": name, "metadata": {"public": str(public).lower()}},
            )
            response.raise_for_status()
            return int(response.headers["Location"].rsplit("/", 1)[1])

    def add_member(self, project: str, username: str, role_id: int) -> None:
        with self.client() as api:
            response = api.post(
                f"/api/v2.0/projects/{project}/members",
                json={"role_id": role_id, "member_user": {"username": username}},
            )
            response.raise_for_status()

    def token(self, scopes: list[str], auth: tuple[str, str] | None = None) -> dict:
        with self.client(auth) as api:
            response = api.get(
                "/service/token",
                params=[("service", "harbor-registry")] + [("scope", s) for s in scopes],
            )
            response.raise_for_status()
            return response.json()


def skopeo(
    *args: str, creds: tuple[str, str] | None = None, check: bool = True, timeout: float = 600
) -> subprocess.CompletedProcess[str]:
    """Run skopeo against plain-HTTP registries, with credentials given explicitly."""
    verb = args[0]
    flags: list[str] = []
    if verb == "copy":
        flags = ["--src-tls-verify=false", "--dest-tls-verify=false"]
        if creds:
            flags += [f"--src-creds={creds[0]}:{creds[1]}", f"--dest-creds={creds[0]}:{creds[1]}"]
    elif verb in ("inspect", "delete", "list-tags"):
        flags = ["--tls-verify=false"]
        if creds:
            flags.append(f"--creds={creds[0]}:{creds[1]}")
    command = ["skopeo", "--insecure-policy", verb, *flags, *args[1:]]
    env = {**os.environ, "REGISTRY_AUTH_FILE": "/nonexistent/auth.json"}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"skopeo {' '.join(args)} failed:\n{result.stderr}")
    return result


def reset_skopeo_cache() -> None:
    """skopeo remembers where blobs live; benchmarks and tests that count uploads reset it."""
    for path in ("/var/lib/containers/cache",):
        shutil.rmtree(path, ignore_errors=True)


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (supervisord daemonizes: init reaps it)."""
    try:
        return (Path(f"/proc/{pid}") / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _terminate_children(parent: int, *, spare: bytes) -> None:
    """SIGTERM the process group of each child of `parent` (supervisord starts each
    program in a group of its own), but for those whose command starts with `spare`."""
    for proc in Path("/proc").iterdir():
        try:
            ppid = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[1])
            if ppid == parent and not (proc / "cmdline").read_bytes().startswith(spare):
                os.killpg(int(proc.name), signal.SIGTERM)
        except (OSError, ValueError, IndexError):  # not a process, or it ended
            continue


@contextlib.contextmanager
def running_instance(data_dir: Path, **kwargs: object) -> Iterator[Instance]:
    instance = Instance(data_dir=data_dir, **kwargs)  # type: ignore[arg-type]  # Instance's fields
    instance.start()
    try:
        yield instance
    finally:
        instance.stop()


def jwt_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
