"""Where the processes of a deployment listen and find each other.

The embedded default (`make run`) keeps everything on one machine behind unix sockets. A
production deployment (deploy/docker-compose.yml) or a highly available one (several app
nodes behind one nginx, docs/deployment.md) sets these from the environment; the same
templates in deploy/ are rendered for all of them, so there is one source of truth.

    HARBOR_LISTEN               nginx listen address            127.0.0.1:<HARBOR_PORT>
    HARBOR_CORE_UPSTREAMS       web servers nginx balances      the local web socket
    HARBOR_REGISTRY_UPSTREAMS   distribution servers nginx uses  the local registry socket
    HARBOR_WEB_BIND             where this node's web server binds  the local web socket
    HARBOR_REGISTRY_BIND        where this node's distribution binds  the local registry socket
"""

from __future__ import annotations

from dataclasses import dataclass

from harbor_py.core import env
from harbor_py.core.runtime import Runtime


def _servers(value: str) -> tuple[str, ...]:
    """nginx `server` addresses: host:port as is, a path as a unix socket."""
    servers = []
    for item in value.split(","):
        item = item.strip()
        if item:
            servers.append(f"unix:{item}" if item.startswith("/") else item)
    return tuple(servers)


@dataclass(frozen=True)
class Topology:
    listen: str
    core_upstreams: tuple[str, ...]
    registry_upstreams: tuple[str, ...]
    web_bind: str  # host:port or unix:/path (gunicorn's --bind syntax)
    registry_net: str  # distribution http.net: tcp or unix
    registry_addr: str

    @property
    def balanced(self) -> bool:
        """More than one app node: nginx sends a request a node refused to another."""
        return len(self.core_upstreams) > 1 or len(self.registry_upstreams) > 1


def load_topology(rt: Runtime) -> Topology:
    web_bind = env.get("HARBOR_WEB_BIND", f"unix:{rt.web_socket}")
    registry_bind = env.get("HARBOR_REGISTRY_BIND", str(rt.registry_socket))
    registry_is_socket = registry_bind.startswith("/")
    return Topology(
        listen=env.get("HARBOR_LISTEN", f"127.0.0.1:{rt.port}"),
        core_upstreams=_servers(env.get("HARBOR_CORE_UPSTREAMS", str(rt.web_socket))),
        registry_upstreams=_servers(env.get("HARBOR_REGISTRY_UPSTREAMS", str(rt.registry_socket))),
        web_bind=web_bind,
        registry_net="unix" if registry_is_socket else "tcp",
        registry_addr=registry_bind,
    )


def internal_url(listen: str) -> str:
    """The http URL of an nginx `listen` address, from this machine (the registry address a
    scanner registered with `use_internal_addr` is given)."""
    address = listen.split()[0]
    host, _, port = address.rpartition(":")
    if not host and not port.isdigit():
        return f"http://{address}"
    if host in ("", "*", "0.0.0.0", "[::]"):
        host = "127.0.0.1"
    return f"http://{host}:{port}"
