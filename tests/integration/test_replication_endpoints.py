"""Registry endpoints beyond CRUD: adapter infos, a custom CA against a real TLS server,
the periodic health refresh, single_active_replication and event-based pull policies."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.test import TestCase
from django_celery_beat.models import PeriodicTask

from harbor_py.core.actor import Actor
from harbor_py.core.events import publish
from harbor_py.core.http import status_of
from jobs.models import Execution, Status, Trigger
from registry.events import ArtifactPushed
from replication import services, tasks
from replication.models import RegistryEndpoint, ReplicationPolicy
from tests.contract import assert_matches
from tests.integration.conftest import assert_harbor_error
from tests.tls import tls_material

pytestmark = pytest.mark.django_db
API = "/api/v2.0"


@pytest.fixture
def api(admin, client_for):
    return client_for(admin)


class _V2(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        self.send_response(200 if self.path == "/v2/" else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def tls_registry(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A registry's /v2/ over HTTPS with a certificate of a private CA: (url, CA PEM)."""
    cert_file, key_file, ca = tls_material(tmp_path_factory.mktemp("tls"), "127.0.0.1")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert_file, key_file)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _V2)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{httpd.server_address[1]}", ca
    httpd.shutdown()


def test_adapter_infos(api):
    response = api.get(f"{API}/replication/adapterinfos")
    assert_matches("listRegistryProviderInfos", response, 200)
    infos = response.json()
    assert sorted(infos) == ["docker-hub", "docker-registry", "harbor"]
    assert infos["harbor"]["endpoint_pattern"]["endpoint_type"] == "EndpointPatternTypeStandard"


def test_custom_ca_verifies_a_private_certificate(api, tls_registry):
    url, ca = tls_registry
    body = {"type": "docker-registry", "url": url}
    # the system pool does not know the private CA
    response = api.post(f"{API}/registries/ping", body, format="json")
    assert_harbor_error(response, 400)
    assert "CERTIFICATE_VERIFY_FAILED" in response.json()["errors"][0]["message"]
    response = api.post(f"{API}/registries/ping", {**body, "ca_certificate": ca}, format="json")
    assert_matches("pingRegistry", response, 200)
    response = api.post(f"{API}/registries/ping", {**body, "insecure": True}, format="json")
    assert_matches("pingRegistry", response, 200)

    bad = api.post(
        f"{API}/registries", {**body, "name": "x", "ca_certificate": "not a pem"}, format="json"
    )
    assert_harbor_error(bad, 400)
    assert not RegistryEndpoint.objects.exists()
    created = api.post(
        f"{API}/registries", {**body, "name": "tls", "ca_certificate": ca}, format="json"
    )
    assert_matches("createRegistry", created, 201)
    registry_id = int(created["Location"].rsplit("/", 1)[1])
    response = api.get(f"{API}/registries/{registry_id}")
    assert_matches("getRegistry", response, 200)
    assert response.json()["ca_certificate"] == ca
    # a bad update is refused and keeps the stored CA
    refused = api.put(f"{API}/registries/{registry_id}", {"ca_certificate": "x"}, format="json")
    assert_harbor_error(refused, 400)
    assert RegistryEndpoint.objects.get(pk=registry_id).ca_certificate == ca


def test_health_refresh_is_scheduled_and_records_the_status(tls_registry):
    url, ca = tls_registry
    beat = PeriodicTask.objects.get(name="harbor: registry endpoint health")
    assert beat.task == "replication.tasks.refresh_registry_health" and beat.enabled
    good = RegistryEndpoint.objects.create(name="good", type="docker-registry", url=url)
    good.ca_certificate = ca
    good.save()
    RegistryEndpoint.objects.create(name="untrusted", type="docker-registry", url=url)
    RegistryEndpoint.objects.create(
        name="gone", type="harbor", url="http://127.0.0.1:9", status="healthy"
    )
    tasks.refresh_registry_health()
    statuses = dict(RegistryEndpoint.objects.values_list("name", "status"))
    assert statuses == {"good": "healthy", "untrusted": "unhealthy", "gone": "unhealthy"}


def _policy(**values) -> ReplicationPolicy:
    endpoint = RegistryEndpoint.objects.create(name="r", type="harbor", url="http://127.0.0.1:9")
    return services.create_policy(
        values={"name": "p", "dest_registry": endpoint, **values}, actor=Actor(username="admin")
    )


def test_single_active_replication_skips_a_second_start(api):
    policy = _policy(single_active_replication=True)
    first = api.post(f"{API}/replication/executions", {"policy_id": policy.pk}, format="json")
    assert_matches("startReplication", first, 201)
    second = api.post(f"{API}/replication/executions", {"policy_id": policy.pk}, format="json")
    assert_matches("startReplication", second, 201)
    assert first["Location"] != second["Location"]
    response = api.get(second["Location"])
    assert_matches("getReplicationExecution", response, 200)
    skipped = response.json()
    assert skipped["status"] == "Skipped"
    assert skipped["status_text"] == "Execution skipped: active replication still in progress."
    listed = api.get(f"{API}/replication/executions", {"status": "Skipped"}).json()
    assert [e["id"] for e in listed] == [skipped["id"]]
    # an event waits for the active run (its Celery task retries on the 409)
    with pytest.raises(Exception) as raised:
        services.start(
            policy=policy,
            trigger=Trigger.EVENT,
            event={"operation": "push"},
            actor=Actor.system("test"),
        )
    assert status_of(raised.value) == 409
    policy_json = api.get(f"{API}/replication/policies/{policy.pk}").json()
    assert policy_json["single_active_replication"] is True


def test_without_single_active_executions_overlap(api):
    policy = _policy()
    for _ in range(2):
        response = api.post(
            f"{API}/replication/executions", {"policy_id": policy.pk}, format="json"
        )
        assert_matches("startReplication", response, 201)
    statuses = Execution.objects.filter(vendor_id=policy.pk).values_list("status", flat=True)
    assert list(statuses) == [Status.PENDING, Status.PENDING]


def test_event_based_pull_policy_is_accepted_and_never_fired(api, monkeypatch):
    """Harbor accepts it and ignores it: the events are this instance's own."""
    source = RegistryEndpoint.objects.create(name="src", type="harbor", url="http://127.0.0.1:9")
    body = {
        "name": "pull-on-event",
        "src_registry": {"id": source.pk},
        "trigger": {"type": "event_based"},
        "filters": [{"type": "name", "value": "**"}],
    }
    response = api.post(f"{API}/replication/policies", body, format="json")
    assert_matches("createReplicationPolicy", response, 201)
    push = _policy(trigger_type="event_based", filters=[{"type": "name", "value": "**"}])
    fired = []
    monkeypatch.setattr(tasks.replicate_event, "delay", lambda *args: fired.append(args[0]))
    with TestCase.captureOnCommitCallbacks(execute=True):
        publish(ArtifactPushed("proj", "proj/app", "sha256:" + "a" * 64, ("v1",), "admin"))
    assert fired == [push.pk]  # only the push-based one
