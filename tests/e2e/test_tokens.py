"""Forged, expired and wrong-audience tokens are refused by the gate and by distribution."""

from __future__ import annotations

import base64
import time
import uuid
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from accounts.keys import generate_signing_material, jwt_algorithm
from tests.imagegen import make_image
from tests.legacy_keys import make_rsa_signing_material
from tests.stack import ADMIN_PASSWORD, Instance, jwt_claims, running_instance, skopeo


def _pushed_repository(instance: Instance, tmp_path_factory: pytest.TempPathFactory) -> dict:
    project = f"tok{uuid.uuid4().hex[:8]}"
    instance.create_project(project)
    image = make_image(tmp_path_factory.mktemp("img") / "src", layer_sizes=[512])
    skopeo(
        "copy",
        image.ref,
        f"docker://{instance.host}/{project}/app:v1",
        creds=("admin", ADMIN_PASSWORD),
    )
    return {"name": f"{project}/app", "image": image}


@pytest.fixture(scope="module")
def repo(stack: Instance, tmp_path_factory: pytest.TempPathFactory) -> dict:
    return _pushed_repository(stack, tmp_path_factory)


def _sign(key_path: Path, cert_path: Path, **overrides: object) -> str:
    key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    now = int(time.time())
    claims = {
        "iss": "harbor-token-issuer",
        "sub": "admin",
        "aud": "harbor-registry",
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": uuid.uuid4().hex,
        "access": [],
    }
    claims.update(overrides)
    return jwt.encode(
        claims,
        key,
        algorithm=jwt_algorithm(key),
        headers={"x5c": [base64.standard_b64encode(der).decode()]},
    )


def _statuses(stack: Instance, repo: dict, token: str) -> tuple[int, int]:
    """(gate: manifest GET, distribution: blob GET) for this token."""
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=stack.url) as registry:
        manifest = registry.get(f"/v2/{repo['name']}/manifests/v1", headers=headers)
        blob = registry.get(
            f"/v2/{repo['name']}/blobs/{repo['image'].layer_digests[0]}", headers=headers
        )
    return manifest.status_code, blob.status_code


def test_genuine_token_works(stack, repo):
    keys = stack.data_dir / "keys"
    access = [{"type": "repository", "name": repo["name"], "actions": ["pull"]}]
    token = _sign(keys / "token-es256.key", keys / "token-es256.crt", access=access)
    assert _statuses(stack, repo, token) == (200, 200)


@pytest.mark.parametrize(
    "case", ["forged", "expired", "wrong_audience", "wrong_issuer", "not_yet_valid"]
)
def test_bad_tokens_are_refused_everywhere(stack, repo, tmp_path, case):
    keys = stack.data_dir / "keys"
    key, cert = keys / "token-es256.key", keys / "token-es256.crt"
    access = [{"type": "repository", "name": repo["name"], "actions": ["pull"]}]
    now = int(time.time())
    if case == "forged":
        generate_signing_material(
            tmp_path / "rogue.key", tmp_path / "rogue.crt", "harbor-token-issuer"
        )
        key, cert = tmp_path / "rogue.key", tmp_path / "rogue.crt"
    overrides: dict[str, object] = {"access": access}
    if case == "expired":
        overrides.update(exp=now - 600, nbf=now - 900, iat=now - 900)
    elif case == "wrong_audience":
        overrides["aud"] = "some-other-registry"
    elif case == "wrong_issuer":
        overrides["iss"] = "mallory"
    elif case == "not_yet_valid":
        overrides["nbf"] = now + 600
    token = _sign(key, cert, **overrides)
    assert _statuses(stack, repo, token) == (401, 401)


@pytest.mark.parametrize("algorithm", ["ES256", "RS256"])
def test_rogue_key_with_stolen_certificate_is_refused(stack, repo, algorithm):
    """A token whose x5c names the genuine certificate but is signed by another key."""
    keys = stack.data_dir / "keys"
    rogue = (
        ec.generate_private_key(ec.SECP256R1())
        if algorithm == "ES256"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    cert = x509.load_pem_x509_certificate((keys / "token-es256.crt").read_bytes())
    der = cert.public_bytes(serialization.Encoding.DER)
    now = int(time.time())
    token = jwt.encode(
        {
            "iss": "harbor-token-issuer",
            "sub": "admin",
            "aud": "harbor-registry",
            "exp": now + 300,
            "nbf": now,
            "iat": now,
            "access": [{"type": "repository", "name": repo["name"], "actions": ["pull"]}],
        },
        rogue,
        algorithm=algorithm,
        headers={"x5c": [base64.standard_b64encode(der).decode()]},
    )
    assert _statuses(stack, repo, token) == (401, 401)


def test_challenge_realm_is_the_external_url(stack):
    """Without credentials nginx answers GET /v2/ (deploy/nginx.conf), exactly as the gate
    would; with a token the gate verifies it."""
    keys = stack.data_dir / "keys"
    with httpx.Client(base_url=stack.url) as registry:
        response = registry.get("/v2/")
        assert response.status_code == 401
        assert response.headers["WWW-Authenticate"] == (
            f'Bearer realm="{stack.url}/service/token",service="harbor-registry"'
        )
        assert response.headers["Content-Type"] == "application/json"
        assert response.headers["Docker-Distribution-Api-Version"] == "registry/2.0"
        assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"
        expired = _sign(
            keys / "token-es256.key", keys / "token-es256.crt", exp=int(time.time()) - 600
        )
        refused = registry.get("/v2/", headers={"Authorization": f"Bearer {expired}"})
        assert refused.status_code == 401
        assert 'error="invalid_token"' in refused.headers["WWW-Authenticate"]
        genuine = _sign(keys / "token-es256.key", keys / "token-es256.crt")
        accepted = registry.get("/v2/", headers={"Authorization": f"Bearer {genuine}"})
        assert accepted.status_code == 200
        assert accepted.headers["Docker-Distribution-Api-Version"] == "registry/2.0"


def test_token_endpoint_refuses_bad_credentials(stack):
    with httpx.Client(base_url=stack.url, auth=("admin", "wrong-password")) as api:
        response = api.get("/service/token", params={"service": "harbor-registry"})
    assert response.status_code == 401
    assert response.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_rs256_tokens_from_before_es256_stay_valid_after_the_upgrade(tmp_path_factory):
    """An install from before ES256 has an RSA key and certificate (`token.key`, `token.crt`)
    and its clients hold RS256 tokens. After the upgrade (`platform prepare` adds the EC
    signer and the bundle), distribution and the gate still accept those tokens, and new
    ones are ES256."""
    data_dir = tmp_path_factory.mktemp("upgraded")
    old_key, old_cert = data_dir / "keys" / "token.key", data_dir / "keys" / "token.crt"
    make_rsa_signing_material(old_key, old_cert)
    old_key_pem = old_key.read_bytes()
    with running_instance(data_dir) as upgraded:
        assert old_key.read_bytes() == old_key_pem  # left in place
        bundle = (data_dir / "keys" / "token-bundle.crt").read_bytes()
        assert old_cert.read_bytes() in bundle
        assert (data_dir / "keys" / "token-es256.crt").read_bytes() in bundle
        repo = _pushed_repository(upgraded, tmp_path_factory)
        access = [{"type": "repository", "name": repo["name"], "actions": ["pull"]}]
        before_upgrade = _sign(old_key, old_cert, access=access)
        assert jwt.get_unverified_header(before_upgrade)["alg"] == "RS256"
        assert _statuses(upgraded, repo, before_upgrade) == (200, 200)
        issued = upgraded.token(
            [f"repository:{repo['name']}:pull"], auth=("admin", ADMIN_PASSWORD)
        )["token"]
        assert jwt.get_unverified_header(issued)["alg"] == "ES256"
        assert jwt_claims(issued)["access"] == access
        assert _statuses(upgraded, repo, issued) == (200, 200)
