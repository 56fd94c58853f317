"""The registry of replication adapters: one type per endpoint type, picked by it."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from replication.adapters import base
from replication.adapters.docker_registry import DockerRegistryAdapter
from replication.adapters.harbor import HarborAdapter
from replication.models import RegistryEndpoint


def _endpoint(kind: str) -> SimpleNamespace:
    return SimpleNamespace(type=kind, url="http://127.0.0.1:9", insecure=False, access_key="")


def test_every_endpoint_type_has_an_adapter():
    names = [kind.name for kind in base.adapter_types()]
    assert names == sorted(RegistryEndpoint.Type.values)


@pytest.mark.parametrize(
    ("kind", "adapter"), [("harbor", HarborAdapter), ("docker-registry", DockerRegistryAdapter)]
)
def test_an_endpoint_opens_the_adapter_of_its_type(kind, adapter):
    opened = base.open_adapter(_endpoint(kind))
    try:
        assert type(opened) is adapter
    finally:
        opened.close()


def test_an_unknown_type_is_a_transfer_error():
    with pytest.raises(base.TransferError, match="no registry adapter"):
        base.open_adapter(_endpoint("quay"))


def test_a_type_is_registered_once():
    with pytest.raises(ValueError, match="registered twice"):
        base.register(base.AdapterType("harbor", HarborAdapter, ("name",)))
