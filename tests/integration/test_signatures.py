"""Signed images (#23): accessories by cosign's tag scheme and OCI 1.1 subject, content
trust at the gate (Harbor's 412), trusted keys, stored and cached verification."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from harbor_py.core.actor import Actor
from registry import deletion
from registry.accessories import cosign_tag
from registry.models import Artifact, Blob, Repository
from registry.pull_policy import PullRequest
from signatures import policy, reading, selectors, services
from signatures.models import SignatureCheck, TrustedKey
from tests import signing
from tests.distribution import bearer, push_image, push_index, put_manifest, upload_blob
from tests.integration.conftest import assert_harbor_error
from tests.integration.test_registry_gate import get, oci_error

pytestmark = pytest.mark.django_db
pytest_plugins = ["tests.distribution_plugin"]

REPO = "demo/app"
API = "/api/v2.0/projects/demo/repositories/app/artifacts"


@pytest.fixture
def demo(make_user, make_project, distribution):
    owner = make_user("owner")
    project = make_project("demo", owner=owner, members={})
    v1 = push_image("owner", REPO, "v1")
    return {"owner": owner, "project": project, "v1": v1}


def _size(digest: str) -> int:
    return Blob.objects.get(digest=digest).size


def push_signed(doc: dict, blobs: list[signing.Blob], reference: str | None = None) -> str:
    for blob in blobs:
        upload_blob(REPO, blob.data)
    reference = reference or signing.manifest_digest(doc)
    response = put_manifest("owner", REPO, reference, doc, signing.OCI_MANIFEST)
    assert response.status_code == 201, response.content
    return response["Docker-Content-Digest"]


def cosign(key, digest: str, **options) -> str:
    """A cosign signature of `digest` pushed by the tag scheme (`sha256-<hex>.sig`)."""
    doc, blobs = signing.cosign_signature(key, options.pop("over", digest), **options)
    return push_signed(doc, blobs, cosign_tag(digest))


def notation(key, digest: str, **options) -> str:
    doc, blobs = signing.notation_signature(key, digest, _size(digest), **options)
    return push_signed(doc, blobs)


def pull(reference: str):
    return get(f"/v2/{REPO}/manifests/{reference}", bearer("owner", REPO, {"pull"}))


def enable(project, **metadata: str) -> None:
    project.metadata = {**project.metadata, **metadata}
    project.save()


def trust(project, key, name: str = "ci") -> TrustedKey:
    return services.add_key(
        project=project,
        name=name,
        public_key=signing.public_pem(key),
        description="",
        actor=Actor(username="owner"),
    )


def refusal(response) -> str:
    error = oci_error(response, 412, "PROJECT_POLICY_VIOLATION")
    assert error is not None
    return error["message"]


# --- accessories --------------------------------------------------------------------------


def test_a_tag_scheme_signature_is_a_cosign_accessory(demo, client_for):
    signature = cosign(signing.ec_key(), demo["v1"])
    row = Artifact.objects.get(digest=signature)
    assert (row.subject_digest, row.accessory_type) == (demo["v1"], "signature.cosign")
    client = client_for(demo["owner"])
    listed = client.get(f"{API}/v1/accessories").json()
    assert [(a["digest"], a["type"]) for a in listed] == [(signature, "signature.cosign")]
    # shown under its subject, not on its own; the referrers API lists it too
    assert [a["digest"] for a in client.get(API).json()] == [demo["v1"]]
    with_accessories = client.get(API, {"with_accessory": "true"}).json()[0]["accessories"]
    assert [a["type"] for a in with_accessories] == ["signature.cosign"]
    referrers = get(f"/v2/{REPO}/referrers/{demo['v1']}", bearer("owner", REPO, {"pull"}))
    assert [m["digest"] for m in referrers.json()["manifests"]] == [signature]


def test_referrer_types_notation_cosign_and_harbor_sbom(demo, client_for):
    key = signing.ec_key()
    by_notation = notation(key, demo["v1"])
    doc, blobs = signing.cosign_signature(
        key, demo["v1"], subject=demo["v1"], subject_size=_size(demo["v1"])
    )
    by_cosign = push_signed(doc, blobs)
    sbom_blob = signing.Blob(b'{"spdxVersion": "SPDX-2.3"}')
    config = signing.Blob(b"{}")
    sbom_doc = {
        "schemaVersion": 2,
        "mediaType": signing.OCI_MANIFEST,
        "artifactType": "application/vnd.goharbor.harbor.sbom.v1",
        "config": config.descriptor(signing.EMPTY_CONFIG),
        "layers": [sbom_blob.descriptor("application/spdx+json")],
        "subject": {
            "mediaType": signing.OCI_MANIFEST,
            "digest": demo["v1"],
            "size": _size(demo["v1"]),
        },
    }
    sbom = push_signed(sbom_doc, [config, sbom_blob])
    listed = client_for(demo["owner"]).get(f"{API}/v1/accessories").json()
    assert {a["digest"]: a["type"] for a in listed} == {
        by_notation: "signature.notation",
        by_cosign: "signature.cosign",
        sbom: "harbor.sbom",
    }


def test_an_accessory_pushed_before_its_subject_is_adopted(demo, client_for):
    # the subject's manifest is built (and its digest known) before it is pushed
    config = signing.Blob(json.dumps({"architecture": "amd64", "os": "linux"}).encode())
    upload_blob(REPO, config.data)
    subject_doc = {
        "schemaVersion": 2,
        "mediaType": signing.OCI_MANIFEST,
        "config": config.descriptor(signing.OCI_CONFIG),
        "layers": [],
    }
    subject = signing.manifest_digest(subject_doc)
    signature = cosign(signing.ec_key(), subject)
    client = client_for(demo["owner"])
    response = put_manifest("owner", REPO, "later", subject_doc, signing.OCI_MANIFEST)
    assert response.status_code == 201
    listed = client.get(f"{API}/later/accessories").json()
    assert [(a["digest"], a["subject_artifact_digest"]) for a in listed] == [(signature, subject)]


def test_deleting_the_subject_deletes_its_signatures_audited(demo):
    signature = cosign(signing.ec_key(), demo["v1"])
    notation_signature = notation(signing.ec_key(), demo["v1"])
    subject = Artifact.objects.select_related("repository").get(digest=demo["v1"])
    assert deletion.delete_artifact(artifact=subject, actor=Actor(username="owner"))
    assert not Artifact.objects.filter(digest__in=[signature, notation_signature]).exists()
    entry = AuditLog.objects.get(operation="delete", resource=f"{REPO}@{demo['v1']}")
    assert entry.description == "with 2 child or accessory artifacts"
    # the signature's tag went with it: pulling it answers MANIFEST_UNKNOWN
    oci_error(pull(cosign_tag(demo["v1"])), 404, "MANIFEST_UNKNOWN")


def test_a_copy_keeps_a_tag_scheme_signature_linked(demo, client_for):
    signature = cosign(signing.ec_key(), demo["v1"])
    client = client_for(demo["owner"])
    copied = client.post(f"/api/v2.0/projects/demo/repositories/copy/artifacts?from={REPO}:v1")
    assert copied.status_code == 201, copied.content
    listed = client.get("/api/v2.0/projects/demo/repositories/copy/artifacts/v1/accessories")
    assert [(a["digest"], a["type"]) for a in listed.json()] == [(signature, "signature.cosign")]


# --- content trust ------------------------------------------------------------------------


def test_content_trust_refuses_unsigned_and_serves_signed_and_signatures(
    demo, django_capture_on_commit_callbacks
):
    enable(demo["project"], enable_content_trust_cosign="true")
    message = refusal(pull("v1"))
    assert "has no cosign signature" in message and demo["v1"] in message
    assert pull("v1").status_code == 412  # refusals are not cached into allowing
    other = push_image("owner", REPO, "v2")
    cosign(signing.ec_key(), demo["v1"])
    assert pull("v1").status_code == 200  # no trusted key: a well-formed signature counts
    assert "has no cosign signature" in refusal(pull("v2"))
    # the signature itself and the referrers API stay pullable, so clients can verify
    assert pull(cosign_tag(demo["v1"])).status_code == 200
    referrers = get(f"/v2/{REPO}/referrers/{other}", bearer("owner", REPO, {"pull"}))
    assert referrers.status_code == 200
    # the allowed verdict is cached; deleting the signature retires it
    signature = Artifact.objects.select_related("repository").get(subject_digest=demo["v1"])
    with django_capture_on_commit_callbacks(execute=True):
        deletion.delete_artifact(artifact=signature, actor=Actor(username="owner"))
    assert "has no cosign signature" in refusal(pull("v1"))


def test_a_signature_over_another_digest_does_not_count(demo):
    enable(demo["project"], enable_content_trust_cosign="true")
    other = push_image("owner", REPO, "v2")
    cosign(signing.ec_key(), demo["v1"], over=other)  # tagged for v1, signs v2
    message = refusal(pull("v1"))
    assert f"over another digest ({other})" in message


def test_a_truncated_signature_layer_does_not_count(demo):
    enable(demo["project"], enable_content_trust_cosign="true")
    whole = signing.cosign_payload(demo["v1"])
    cosign(signing.ec_key(), demo["v1"], payload=whole[: len(whole) // 2])
    assert "is not a simple signing payload" in refusal(pull("v1"))


def test_a_registry_that_cannot_answer_leaves_no_stored_verdict(demo, monkeypatch):
    import httpx

    from registry import upstream

    enable(demo["project"], enable_content_trust_cosign="true")
    cosign(signing.ec_key(), demo["v1"])

    def down(*args, **kwargs):
        raise httpx.ConnectError("refused")

    original = upstream.fetch_manifest
    monkeypatch.setattr(upstream, "fetch_manifest", down)
    assert "not verified yet" in refusal(pull("v1"))
    assert not SignatureCheck.objects.exists()
    monkeypatch.setattr(upstream, "fetch_manifest", original)
    assert pull("v1").status_code == 200
    assert SignatureCheck.objects.count() == 1


def test_notation_content_trust(demo):
    enable(demo["project"], enable_content_trust="true")
    assert "has no Notation signature" in refusal(pull("v1"))
    other = push_image("owner", REPO, "v2")
    notation(signing.ec_key(), demo["v1"], signed_digest=other)
    assert "over another digest" in refusal(pull("v1"))
    notation(signing.ec_key(), demo["v1"])
    assert pull("v1").status_code == 200


# --- trusted keys -------------------------------------------------------------------------


def test_only_a_trusted_key_counts_and_a_key_change_rechecks(
    demo, django_capture_on_commit_callbacks
):
    project = demo["project"]
    enable(project, enable_content_trust_cosign="true")
    ci, stranger = signing.ec_key(), signing.ec_key()
    cosign(stranger, demo["v1"])
    trusted = trust(project, ci, "ci")
    message = refusal(pull("v1"))
    assert "needs a trusted key" in message and "no trusted key verifies it (tried: ci)" in message
    trust(project, stranger, "stranger")  # the key set changed: checked again
    assert pull("v1").status_code == 200
    check = SignatureCheck.objects.get(status="verified")
    assert check.key_name == "stranger" and check.key.name == "stranger"
    with django_capture_on_commit_callbacks(execute=True):  # retires the cached verdict
        services.delete_key(key=TrustedKey.objects.get(name="stranger"), actor=Actor(username="o"))
    assert "no trusted key verifies it (tried: ci)" in refusal(pull("v1"))
    assert trusted.pk  # ci stays trusted


def test_a_key_change_rechecks_in_the_background_and_a_pull_never_uses_a_stale_check(
    demo, django_capture_on_commit_callbacks, monkeypatch
):
    project = demo["project"]
    enable(project, enable_content_trust_cosign="true")
    ci, stranger = signing.ec_key(), signing.ec_key()
    cosign(ci, demo["v1"])
    push_image("owner", REPO, "v2")  # unsigned: nothing to re-check
    with django_capture_on_commit_callbacks(execute=True):  # the re-check task runs (eager)
        trust(project, ci, "ci")
        trust(project, stranger, "stranger")
    now = selectors.key_set(selectors.trusted_by(project.pk))
    [check] = SignatureCheck.objects.filter(key_set=now)
    assert (check.status, check.key_name) == ("verified", "ci")

    def verifying(*args, **kwargs):
        raise AssertionError("a pull verified what the re-check had stored")

    with monkeypatch.context() as patched:
        patched.setattr(reading, "check", verifying)
        assert pull("v1").status_code == 200  # the stored check, no verification

    # ci deleted; the re-check has not run yet (its callback is dropped): the key change
    # bumped the project's generation in its own transaction, so neither the verdict
    # cached in this process nor the stored check for the old key set is used
    with django_capture_on_commit_callbacks(execute=False):
        services.delete_key(key=TrustedKey.objects.get(name="ci"), actor=Actor(username="o"))
    assert "no trusted key verifies it (tried: stranger)" in refusal(pull("v1"))
    TrustedKey.objects.filter(name="stranger").delete()
    # a system key: every project's signatures are re-checked against the new set
    with django_capture_on_commit_callbacks(execute=True):
        trust(None, ci, "org")
    system_set = selectors.key_set(selectors.trusted_by(project.pk))
    [check] = SignatureCheck.objects.filter(key_set=system_set)
    assert (check.status, check.key_name) == ("verified", "org")
    assert services.recheck(project_id=project.pk) == 1  # v1 only; stored checks reused


@pytest.mark.parametrize(
    "make_key",
    [
        lambda: signing.ec_key(ec.SECP384R1()),
        lambda: rsa.generate_private_key(65537, 2048),
        ed25519.Ed25519PrivateKey.generate,
    ],
    ids=["p384", "rsa", "ed25519"],
)
def test_system_keys_of_every_algorithm(demo, make_key):
    enable(demo["project"], enable_content_trust_cosign="true")
    key = make_key()
    trust(None, key, "org")
    trust(demo["project"], signing.ec_key(), "other")
    assert pull("v1").status_code == 412
    cosign(key, demo["v1"])
    assert pull("v1").status_code == 200


def test_a_notation_signature_verifies_with_a_trusted_certificate(demo):
    project = demo["project"]
    enable(project, enable_content_trust="true")
    key = signing.ec_key()
    pem = signing.certificate(key).public_bytes(serialization.Encoding.PEM).decode()
    services.add_key(
        project=project, name="notary", public_key=pem, description="", actor=Actor(username="o")
    )
    notation(signing.ec_key(), demo["v1"])  # by a certificate nobody trusts
    assert "no trusted key verifies it" in refusal(pull("v1"))
    notation(key, demo["v1"])
    assert pull("v1").status_code == 200


def test_a_notation_cose_signature_through_the_gate(demo):
    project = demo["project"]
    enable(project, enable_content_trust="true")
    key = rsa.generate_private_key(65537, 2048)
    trust(project, key, "notary")
    # tampered: the envelope's signature no longer matches its protected header and payload
    envelope = signing.notation_cose_envelope(key, demo["v1"], _size(demo["v1"]))
    tampered = envelope[:-1] + bytes([envelope[-1] ^ 1])
    blob = signing.Blob(tampered)
    doc, blobs = signing.notation_signature(key, demo["v1"], _size(demo["v1"]), cose=True)
    doc["layers"] = [blob.descriptor(signing.COSE)]
    push_signed(doc, [blobs[0], blob])
    message = refusal(pull("v1"))
    assert "does not verify with its own certificate" in message
    notation(key, demo["v1"], cose=True)
    assert pull("v1").status_code == 200
    [verified] = SignatureCheck.objects.filter(status="verified")
    assert verified.key_name == "notary"


def test_a_platform_image_of_a_signed_index_is_pullable(demo):
    enable(demo["project"], enable_content_trust_cosign="true")
    index = push_index("owner", REPO, "multi", {demo["v1"]: _size(demo["v1"])})
    assert pull(demo["v1"]).status_code == 412
    cosign(signing.ec_key(), index)
    assert pull("multi").status_code == 200
    assert pull(demo["v1"]).status_code == 200


def test_the_check_is_free_when_off_and_cached_when_on(demo, monkeypatch, redis_commands):
    def asked() -> PullRequest:  # as the gate asks: the repository and its project read
        repository = Repository.objects.select_related("project").get(name=REPO)
        artifact = Artifact.objects.get(digest=demo["v1"])
        return PullRequest(repository=repository, artifact=artifact, subject="owner")

    redis_commands.clear()
    with CaptureQueriesContext(connection) as queries:
        assert policy.check(asked()) is None
    assert (len(queries), redis_commands) == (2, [])  # asked()'s own two

    enable(demo["project"], enable_content_trust_cosign="true")
    cosign(signing.ec_key(), demo["v1"])
    computed = []
    original = services.refusal
    monkeypatch.setattr(services, "refusal", lambda *a: computed.append(1) or original(*a))
    assert policy.check(asked()) is None
    request = asked()
    redis_commands.clear()
    with CaptureQueriesContext(connection) as queries:
        assert policy.check(request) is None
    # cached in this process under the project's generation: no query, no round trip
    assert (len(computed), len(queries), redis_commands) == (1, 0, [])

    # a system key (which does not verify the signature) retires the verdict in its own
    # transaction: the next pull's project row has the new generation
    trust(None, signing.ec_key(), "org")
    assert "no trusted key verifies it (tried: org)" in (policy.check(asked()) or "")
    assert len(computed) == 2


# --- the API ------------------------------------------------------------------------------


def test_trusted_keys_api_and_artifact_signatures(demo, client_for, make_user, admin):
    client = client_for(demo["owner"])
    url = "/api/v2.0/projects/demo/trusted-keys"
    key = signing.ec_key()
    created = client.post(url, {"name": "ci", "public_key": signing.public_pem(key)}, format="json")
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["algorithm"] == "ECDSA-P256" and body["fingerprint"].startswith("sha256:")
    assert AuditLog.objects.filter(resource_type="trusted_key", operation="create").count() == 1
    assert_harbor_error(
        client.post(url, {"name": "ci2", "public_key": signing.public_pem(key)}, format="json"),
        409,
        "CONFLICT",
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    for bad in ("not a key", private):
        assert_harbor_error(client.post(url, {"name": "x", "public_key": bad}, format="json"), 400)
    assert [k["name"] for k in client.get(url).json()] == ["ci"]

    cosign(key, demo["v1"])
    signatures = client.get(f"{API}/v1/signatures").json()
    assert [(s["type"], s["status"], s["key_name"]) for s in signatures] == [
        ("signature.cosign", "verified", "ci")
    ]

    stranger = make_user("stranger")
    refused = client_for(stranger).post("/api/v2.0/system/trusted-keys", {}, format="json")
    assert refused.status_code == 403
    assert client_for(stranger).post(url, {}, format="json").status_code in (403, 404)
    system = client_for(admin).post(
        "/api/v2.0/system/trusted-keys",
        {"name": "org", "public_key": signing.public_pem(signing.ec_key())},
        format="json",
    )
    assert system.status_code == 201 and system.json()["project_id"] is None
    key_id = body["id"]
    assert client.delete(f"{url}/{key_id}").status_code == 200
    assert AuditLog.objects.filter(resource_type="trusted_key", operation="delete").count() == 1


# --- the UI -------------------------------------------------------------------------------


def test_ui_keys_settings_signed_column_and_accessories(demo, make_user):
    from django.test import Client

    browser = Client()
    browser.force_login(demo["owner"])
    key = signing.ec_key()
    added = browser.post(
        "/projects/demo/trusted-keys", {"name": "ci", "public_key": signing.public_pem(key)}
    )
    assert added.status_code == 302 and TrustedKey.objects.filter(name="ci").exists()
    config = browser.post(
        "/projects/demo/configuration",
        {"enable_content_trust_cosign": "on", "severity": "none"},
    )
    assert config.status_code == 302
    demo["project"].refresh_from_db()
    assert demo["project"].metadata["enable_content_trust_cosign"] == "true"
    page = browser.get("/projects/demo/configuration").content.decode()
    assert 'id="project-keys"' in page and "ECDSA-P256" in page

    v2 = push_image("owner", REPO, "v2")
    cosign(key, demo["v1"])
    cosign(signing.ec_key(), v2)
    artifact_page = browser.get(f"/projects/demo/repositories/app/-/artifacts/{demo['v1']}")
    body = artifact_page.content.decode()
    assert 'id="accessories"' in body and "signature.cosign" in body
    assert "verified with trusted key ci" in body
    listing = browser.get("/projects/demo/repositories/app/").content.decode()
    rows = {d: listing.split(d[:19], 1)[1].split("</tr>", 1)[0] for d in (demo["v1"], v2)}
    assert '<span class="badge Success">verified</span>' in rows[demo["v1"]]
    assert '<span class="badge">signed</span>' in rows[v2]
    chinese = browser.get(
        f"/projects/demo/repositories/app/-/artifacts/{v2}", HTTP_ACCEPT_LANGUAGE="zh-hans"
    ).content.decode()
    assert "附件" in chinese and "非受信任密钥签名" in chinese

    key_id = TrustedKey.objects.get(name="ci").pk
    assert browser.post(f"/projects/demo/trusted-keys/{key_id}/delete").status_code == 302
    assert not TrustedKey.objects.filter(pk=key_id).exists()


def test_ui_system_keys_are_for_admins(demo, admin):
    from django.test import Client

    browser, stranger = Client(), Client()
    browser.force_login(admin)
    stranger.force_login(demo["owner"])
    assert stranger.get("/admin/trusted-keys").status_code == 403
    pem = signing.public_pem(signing.ec_key())
    assert (
        browser.post("/admin/trusted-keys", {"name": "org", "public_key": pem}).status_code == 302
    )
    key = TrustedKey.objects.get(name="org", project__isnull=True)
    page = browser.get("/admin/trusted-keys").content.decode()
    assert 'id="system-keys"' in page and key.fingerprint[:20] in page
    shown = stranger.get("/projects/demo/configuration").content.decode()
    assert "org" in shown.split('id="system-keys"', 1)[1]  # every project sees what it trusts
    assert browser.post(f"/admin/trusted-keys/{key.pk}/delete").status_code == 302
    assert not TrustedKey.objects.filter(pk=key.pk).exists()
