"""Deployment settings read from the environment (12-factor), and the paths they imply.

Everything an operator sets when starting an instance lives here; settings that an admin
changes at run time live in the database behind /api/v2.0/configurations.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harbor_py.core import env

BASE_DIR = Path(__file__).resolve().parents[2]  # the checkout: harbor_py/core/runtime.py


@dataclass(frozen=True)
class Runtime:
    port: int
    data_dir: Path
    external_url: str
    admin_password: str
    database_url: str
    redis_url: str
    private_redis: bool

    @property
    def run_dir(self) -> Path:
        return self.data_dir / "run"

    @property
    def keys_dir(self) -> Path:
        return self.data_dir / "keys"

    @property
    def log_dir(self) -> Path:
        return self.data_dir / "logs"

    @property
    def config_dir(self) -> Path:
        return self.data_dir / "config"

    @property
    def storage_dir(self) -> Path:
        return self.data_dir / "registry"

    @property
    def registry_socket(self) -> Path:
        return self.run_dir / "registry.sock"

    @property
    def web_socket(self) -> Path:
        """Where the web server (granian or gunicorn) listens, for nginx."""
        return self.run_dir / "web.sock"

    @property
    def redis_socket(self) -> Path:
        return self.run_dir / "redis.sock"

    @property
    def token_key_path(self) -> Path:
        return self.keys_dir / "token-es256.key"

    @property
    def token_cert_path(self) -> Path:
        return self.keys_dir / "token-es256.crt"

    @property
    def token_rsa_cert_path(self) -> Path:
        """The RSA signer's certificate of installs from before ES256 (accounts/keys.py)."""
        return self.keys_dir / "token.crt"

    @property
    def token_cert_bundle_path(self) -> Path:
        """distribution's rootcertbundle: the signer's certificate and the RSA one."""
        return self.keys_dir / "token-bundle.crt"


@dataclass(frozen=True)
class SentinelConfig:
    sentinels: tuple[tuple[str, int], ...]
    master: str
    db: int = 0
    password: str | None = None

    @classmethod
    def parse(
        cls, sentinels: str, master: str, db: str = "0", password: str = ""
    ) -> SentinelConfig:
        """`host:port,host:port,...` (port 26379 when left out)."""
        addresses = []
        for item in sentinels.split(","):
            host, _, port = item.strip().rpartition(":")
            if not host:
                host, port = port, "26379"
            addresses.append((host.strip("[]"), int(port)))
        return cls(tuple(addresses), master or "harbor", int(db or 0), password or None)

    def celery_broker_url(self) -> str:
        """kombu's form: one `sentinel://` URL per sentinel, `;`-separated; the master's
        name goes in the transport options (celery_transport_options)."""
        auth = f":{self.password}@" if self.password else ""
        hosts = ((f"[{h}]" if ":" in h else h, p) for h, p in self.sentinels)
        return ";".join(f"sentinel://{auth}{h}:{p}/{self.db}" for h, p in hosts)

    def celery_transport_options(self) -> dict[str, object]:
        return {"master_name": self.master}


def load_runtime(environ: Mapping[str, str] | None = None) -> Runtime:
    environ = env.variables() if environ is None else environ
    port = int(environ.get("HARBOR_PORT", "8080"))
    data_dir = Path(environ.get("HARBOR_DATA_DIR", "data"))
    if not data_dir.is_absolute():
        data_dir = BASE_DIR / data_dir
    redis_url = environ.get("REDIS_URL", "")
    sentinels = environ.get("REDIS_SENTINELS", "")
    return Runtime(
        port=port,
        data_dir=data_dir,
        external_url=environ.get("HARBOR_EXTERNAL_URL", f"http://127.0.0.1:{port}").rstrip("/"),
        admin_password=environ.get("HARBOR_ADMIN_PASSWORD", "Harbor12345"),
        database_url=environ.get("DATABASE_URL", f"sqlite:///{data_dir / 'harbor.db'}"),
        redis_url=redis_url or f"unix://{data_dir / 'run' / 'redis.sock'}",
        private_redis=not (redis_url or sentinels),
    )


def nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    """The IPv4 name servers of this host: nginx resolves an upstream's name with them
    (its `resolver`, the proxy cache's fetch location in deploy/nginx.conf)."""
    found = []
    try:
        with open(path) as handle:
            for line in handle:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver" and ":" not in parts[1]:
                    found.append(parts[1])
    except OSError:
        return []
    return found


def load_or_create_secret(path: Path) -> str:
    """Read a secret from `path`, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_urlsafe(50)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process won the race
        return path.read_text().strip()
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value
