"""Prepare, start and stop the embedded platform (README: `make run`, `make up`, `make down`).

manage.py platform prepare   keys, configs, database, admin user
manage.py platform run       prepare, then run everything in the foreground (Ctrl-C stops)
manage.py platform up        prepare, start in the background, wait until healthy
manage.py platform down      stop what `up` started
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.template import Context, Engine

from accounts.keys import generate_signing_material, write_certificate_bundle
from accounts.services import ensure_admin
from harbor_py.core import env
from harbor_py.core.oci import challenge_header
from harbor_py.core.runtime import BASE_DIR, Runtime, load_or_create_secret, nameservers
from harbor_py.ops.deploy import bridge_legacy_web_socket, supervisor_context
from harbor_py.processes import (
    REGISTRY_DROPPED_ENVIRONMENT,
    role_environment,
    supervisor_commands,
    supervisor_environment,
)
from harbor_py.topology import load_topology
from proxy_cache import fetch_route
from scanning.services import ensure_default_scanner

DEPLOY_DIR = BASE_DIR / "deploy"
PASSED_ENVIRONMENT = (
    "HARBOR_PORT",
    "HARBOR_DATA_DIR",
    "HARBOR_EXTERNAL_URL",
    "DATABASE_URL",
    "REDIS_URL",
    "REDIS_SENTINELS",
    "REDIS_SENTINEL_MASTER",
    "REDIS_DB",
    "REDIS_PASSWORD",
    "HARBOR_SECRET_KEY",
    "HARBOR_LOG_LEVEL",
    "HARBOR_LOG_FORMAT",
    "HARBOR_CREDENTIAL_CACHE_SECONDS",
    "HARBOR_LDAP_CREDENTIAL_CACHE_SECONDS",
    "HARBOR_LDAP_GROUP_CACHE_SECONDS",
    "GC_UPLOAD_AGE_HOURS",
    "HARBOR_CACHE_PREFIX",
    "GC_TIME_WINDOW_HOURS",
    "HARBOR_STORAGE",
    "HARBOR_S3_REGION",
    "HARBOR_S3_ENDPOINT",
    "HARBOR_S3_BUCKET",
    "HARBOR_S3_ACCESS_KEY",
    "HARBOR_S3_SECRET_KEY",
    "HARBOR_S3_SECURE",
    # the built-in scanner (docs/scanner.md)
    "HARBOR_BUILTIN_SCANNER",
    "HARBOR_BUILTIN_SCANNER_URL",
    "HARBOR_BUILTIN_SCANNER_TOKEN",
    "HARBOR_SCANNER_LISTEN",
    "HARBOR_SCANNER_WORKERS",
    "HARBOR_S3_ROOT",
    "AWS_CA_BUNDLE",
    "HARBOR_REGISTRY_URL",
)
# supervisord, whose environment distribution inherits, starts without what distribution
# must not get (REGISTRY_DROPPED_ENVIRONMENT); the Python programs get it back through
# `environment=` (PASSED_ENVIRONMENT).
SUPERVISOR_DROPPED_ENVIRONMENT = REGISTRY_DROPPED_ENVIRONMENT


def _supervisor_environment(rt: Runtime) -> str:
    values = {name: env.require(name) for name in PASSED_ENVIRONMENT if name in env.variables()}
    values.update(
        HARBOR_DATA_DIR=str(rt.data_dir),
        HARBOR_PORT=str(rt.port),
        DJANGO_SETTINGS_MODULE="harbor_py.settings",
    )
    return supervisor_environment(values)


def _supervisor_process_environment() -> dict[str, str]:
    return {k: v for k, v in env.variables().items() if k not in SUPERVISOR_DROPPED_ENVIRONMENT}


def _storage_context() -> dict[str, Any]:
    """distribution's storage section; values JSON-quoted (JSON strings are YAML strings)."""
    s3 = settings.HARBOR["S3"]
    return {
        "storage": settings.HARBOR["STORAGE"],
        "s3": {
            "region": json.dumps(s3["REGION"]),
            "regionendpoint": json.dumps(s3["ENDPOINT"]),
            "bucket": json.dumps(s3["BUCKET"]),
            "accesskey": json.dumps(s3["ACCESS_KEY"]),
            "secretkey": json.dumps(s3["SECRET_KEY"]),
            "secure": "true" if s3["SECURE"] else "false",
            "rootdirectory": json.dumps("/" + s3["ROOT"].strip("/")),
        },
    }


# What may appear in the external URL: it is written into nginx.conf (inside '...', where
# nginx expands $variables) and registry.yml.
_SAFE_URL = re.compile(r"^https?://[A-Za-z0-9._~:/@%+,=\[\]-]+$")


def _checked_external_url(rt: Runtime) -> str:
    if not _SAFE_URL.match(rt.external_url):
        raise CommandError(
            f"HARBOR_EXTERNAL_URL {rt.external_url!r} is not a plain http(s) URL "
            "(letters, digits and . _ ~ : / @ % + , = [ ] - only)"
        )
    return rt.external_url


def _registry_environment() -> str:
    try:
        return supervisor_environment(role_environment("registry"))
    except ValueError as exc:
        raise CommandError(str(exc)) from exc


def _supervisor_commands(rt: Runtime) -> dict[str, str]:
    try:
        return supervisor_commands(rt)
    except ValueError as exc:  # a setting the program would not understand (HARBOR_WEB_SERVER)
        raise CommandError(str(exc)) from exc


def render_configs(rt: Runtime, target: Path | None = None) -> Path:
    """Render deploy/ into `target` (default: the instance's config dir); returns it."""
    config_dir = target or rt.config_dir
    engine = Engine(dirs=[str(DEPLOY_DIR)], autoescape=False)
    context = {
        "rt": rt,
        "run_as_root": os.geteuid() == 0,
        "http_secret": load_or_create_secret(rt.keys_dir / "registry_http_secret"),
        "service": settings.HARBOR["TOKEN_SERVICE"],
        "issuer": settings.HARBOR["TOKEN_ISSUER"],
        "challenge": challenge_header(external_url=_checked_external_url(rt)),
        "external": urlsplit(rt.external_url),
        "static_root": settings.STATIC_ROOT,
        "venv": Path(sys.executable).parent.parent,
        "base_dir": BASE_DIR,
        "commands": _supervisor_commands(rt),
        "builtin_scanner": settings.HARBOR["BUILTIN_SCANNER"],
        "registry_log_level": env.get("HARBOR_REGISTRY_LOG_LEVEL", "warn"),
        "environment": _supervisor_environment(rt),
        "registry_environment": _registry_environment(),
        "topology": load_topology(rt),
        "resolvers": " ".join(nameservers()),
        "config_dir": config_dir,
        **_storage_context(),
        **supervisor_context(rt),
    }
    config_dir.mkdir(parents=True, exist_ok=True)
    for name in (
        "registry.yml",
        "nginx.conf",
        "supervisord.conf",
        "nginx-proxy-headers.conf",
        "nginx-proxy-fetch.conf",
        "nginx-proxy-fetch-from.conf",
    ):
        text = engine.get_template(name).render(Context(context, autoescape=False))
        (config_dir / name).write_text(text)
    write_upstream_cas(rt)
    return config_dir


def write_upstream_cas(rt: Runtime, *, with_endpoints: bool = False) -> None:
    """The CAs nginx checks a proxy cache's HTTPS upstream against (deploy/nginx.conf),
    where the gate reads them too (settings.HARBOR["PROXY_UPSTREAM_CA_BUNDLE"])."""
    rt.config_dir.mkdir(parents=True, exist_ok=True)
    fetch_route.write_ca_bundle(
        str(rt.config_dir / "proxy-upstream-cas.pem"),
        env.get("HARBOR_PROXY_UPSTREAM_CAS", ""),
        with_endpoints=with_endpoints,
    )


def _require_migrated() -> None:
    """With --skip-migrations, refuse to start on a schema older than the code."""
    from django.db import connection
    from django.db.migrations.executor import MigrationExecutor

    executor = MigrationExecutor(connection)
    if executor.migration_plan(executor.loader.graph.leaf_nodes()):
        raise CommandError("the database has unapplied migrations: run `manage.py migrate` first")


def health(rt: Runtime, timeout: float = 5.0) -> dict[str, Any] | None:
    url = f"http://127.0.0.1:{rt.port}/api/v2.0/health"
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None


class Command(BaseCommand):
    help = "Prepare, run, start or stop the embedded harbor-py platform."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["prepare", "run", "up", "down", "status"])
        parser.add_argument(
            "--wait", type=float, default=180.0, help="seconds `up` waits for health"
        )
        parser.add_argument(
            "--skip-migrations",
            action="store_true",
            help="leave the database schema alone (a one-shot `manage.py migrate` step owns it)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        rt: Runtime = settings.RUNTIME
        action = options["action"]
        if action == "down":
            return self.down(rt)
        if action == "status":
            self.stdout.write(json.dumps(health(rt), indent=2))
            return None
        self.prepare(rt, migrate=not options["skip_migrations"])
        if action == "run":
            self.stdout.write(f"harbor-py on {rt.external_url} (Ctrl-C stops everything)")
            supervisord = Path(sys.executable).parent / "supervisord"
            os.execve(
                supervisord,
                [str(supervisord), "-n", "-c", str(rt.config_dir / "supervisord.conf")],
                _supervisor_process_environment(),
            )
        if action == "up":
            self.up(rt, options["wait"])
        return None

    def prepare(self, rt: Runtime, *, migrate: bool = True) -> None:
        for directory in (
            rt.data_dir,
            rt.run_dir,
            rt.log_dir,
            rt.keys_dir,
            rt.storage_dir,
            rt.run_dir / "nginx-tmp",
        ):
            directory.mkdir(parents=True, exist_ok=True)
        os.chmod(rt.keys_dir, 0o700)
        if generate_signing_material(
            rt.token_key_path, rt.token_cert_path, settings.HARBOR["TOKEN_ISSUER"]
        ):
            self.stdout.write(f"generated token signing key and certificate in {rt.keys_dir}")
        trusted = write_certificate_bundle(
            rt.token_cert_bundle_path, (rt.token_cert_path, rt.token_rsa_cert_path)
        )
        if rt.token_rsa_cert_path in trusted:
            self.stdout.write(
                f"{rt.token_rsa_cert_path.name} (the RSA signer before ES256) stays trusted;"
                " delete it once its tokens have expired"
            )
        render_configs(rt)
        bridge_legacy_web_socket(rt)
        if migrate:
            call_command("migrate", interactive=False, verbosity=0)
        else:
            _require_migrated()
        write_upstream_cas(rt, with_endpoints=True)
        call_command("collectstatic", interactive=False, verbosity=0)
        if ensure_admin(password=rt.admin_password):
            self.stdout.write("created the admin user")
        builtin_scanner = settings.HARBOR.get("BUILTIN_SCANNER_URL")
        if builtin_scanner and settings.HARBOR.get("BUILTIN_SCANNER", True):
            # registered on first start, the default while no other is (docs/scanning.md);
            # the built-in adapter asks for this Bearer token (docs/scanner.md)
            ensure_default_scanner(
                name="harbor-py scanner",
                url=builtin_scanner,
                token=settings.HARBOR.get("BUILTIN_SCANNER_TOKEN") or "",
            )

    def _supervisorctl(self, rt: Runtime, *args: str) -> subprocess.CompletedProcess[str]:
        ctl = Path(sys.executable).parent / "supervisorctl"
        return subprocess.run(
            [str(ctl), "-c", str(rt.config_dir / "supervisord.conf"), *args],
            capture_output=True,
            text=True,
            check=False,
        )

    def up(self, rt: Runtime, wait: float) -> None:
        if (rt.run_dir / "supervisor.sock").exists() and self._supervisorctl(
            rt, "pid"
        ).returncode == 0:
            self.stdout.write("already running")
        else:
            supervisord = Path(sys.executable).parent / "supervisord"
            subprocess.run(
                [str(supervisord), "-c", str(rt.config_dir / "supervisord.conf")],
                check=True,
                env=_supervisor_process_environment(),
            )
        deadline = time.monotonic() + wait
        status: dict[str, Any] | None = None
        while time.monotonic() < deadline:
            status = health(rt)
            if status and status.get("status") == "healthy":
                self.stdout.write(f"harbor-py is up on {rt.external_url}")
                return
            time.sleep(0.5)
        raise CommandError(
            f"not healthy after {wait:.0f}s: {json.dumps(status)}; logs are in {rt.log_dir}"
        )

    def down(self, rt: Runtime) -> None:
        if not (rt.run_dir / "supervisor.sock").exists():
            self.stdout.write("not running")
            return
        pid_file = rt.run_dir / "supervisord.pid"
        pid = int(pid_file.read_text()) if pid_file.exists() else None
        self._supervisorctl(rt, "shutdown")
        deadline = time.monotonic() + 60
        while pid and time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        self.stdout.write("harbor-py stopped")
