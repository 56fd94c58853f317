"""Who holds a lease: `host:pid` of a process, and whether that process is known gone.

Shared by the jobs lease (jobs/lease.py) and the built-in scanner's job leases
(scanner/leases.py): a lease whose owner is a process of this host that no longer exists
is stale at once, without waiting for its heartbeat to age.
"""

from __future__ import annotations

import os
import socket


def this_process() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def gone_from_this_host(owner: str) -> bool:
    """The owner is a process of this host that no longer exists. An owner of another host,
    or without a pid, is not known gone: its heartbeat decides."""
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
