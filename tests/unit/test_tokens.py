"""accounts.tokens: the registry bearer token format and its verification."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings

from accounts import keys
from accounts.tokens import InvalidToken, Scope, mint, parse_scopes, verify
from tests.legacy_keys import make_rsa_signing_material

PULL = frozenset({"pull"})


def _segment(token: str, index: int) -> dict:
    part = token.split(".")[index]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def _b64url(data: dict) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def _claims(**overrides) -> dict:
    now = int(time.time())
    claims = {
        "iss": settings.HARBOR["TOKEN_ISSUER"],
        "sub": "alice",
        "aud": settings.HARBOR["TOKEN_SERVICE"],
        "exp": now + 300,
        "nbf": now,
        "iat": now,
        "jti": "abc",
        "access": [{"type": "repository", "name": "p/r", "actions": ["pull"]}],
    }
    claims.update(overrides)
    return {k: v for k, v in claims.items() if v is not None}


def _x5c() -> list[str]:
    der = keys.certificate_der(settings.HARBOR["TOKEN_CERT_PATH"])
    return [base64.standard_b64encode(der).decode()]


def _sign(claims: dict, key=None, algorithm: str = "ES256") -> str:
    key = key or keys.load_private_key(settings.HARBOR["TOKEN_KEY_PATH"])
    return jwt.encode(claims, key, algorithm=algorithm, headers={"x5c": _x5c()})


# --- minting -------------------------------------------------------------------------------


def test_mint_then_verify_round_trip():
    scopes = [
        Scope("repository", "lib/app", frozenset({"pull", "push"})),
        Scope("registry", "catalog", frozenset({"*"})),
    ]
    token, expires_in, issued_at = mint("alice", scopes)
    claims = verify(token)
    assert claims.subject == "alice"
    assert claims.access == {
        ("repository", "lib/app"): frozenset({"pull", "push"}),
        ("registry", "catalog"): frozenset({"*"}),
    }
    assert claims.allows("repository", "lib/app", "push")
    assert not claims.allows("repository", "lib/app", "delete")
    assert not claims.allows("repository", "lib/other", "pull")
    assert claims.allows("registry", "catalog", "anything")  # "*" covers every action
    assert expires_in == 30 * 60  # token_expiration default: 30 minutes
    assert abs(issued_at - time.time()) < 5


def test_header_is_es256_with_standard_base64_der_x5c():
    token, _, _ = mint("alice", [])
    header = jwt.get_unverified_header(token)
    assert header["alg"] == "ES256"
    # JWS's r||s form: distribution refuses a DER-encoded ECDSA signature.
    signature = token.split(".")[2]
    assert len(base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))) == 64
    assert isinstance(header["x5c"], list) and len(header["x5c"]) == 1
    encoded = header["x5c"][0]
    # Standard alphabet (distribution refuses base64url), padded.
    der = base64.b64decode(encoded, validate=True)
    assert base64.standard_b64encode(der).decode() == encoded
    assert der == keys.certificate_der(settings.HARBOR["TOKEN_CERT_PATH"])
    cert = x509.load_der_x509_certificate(der)
    signing_key = keys.load_private_key(settings.HARBOR["TOKEN_KEY_PATH"])
    pem = serialization.Encoding.PEM
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert cert.public_key().public_bytes(pem, spki) == signing_key.public_key().public_bytes(
        pem, spki
    )


def test_claim_types_match_what_distribution_accepts():
    token, expires_in, issued_at = mint(
        "bob", [Scope("repository", "lib/app", frozenset({"push", "pull"}))], expires_in=120
    )
    payload = _segment(token, 1)
    assert payload["aud"] == settings.HARBOR["TOKEN_SERVICE"]
    assert type(payload["aud"]) is str
    assert payload["iss"] == settings.HARBOR["TOKEN_ISSUER"]
    assert payload["sub"] == "bob"
    for name in ("exp", "nbf", "iat"):
        assert type(payload[name]) is int, name
    assert payload["iat"] == issued_at
    assert payload["exp"] - payload["iat"] == expires_in == 120
    assert payload["nbf"] <= payload["iat"]
    assert payload["jti"]
    assert payload["access"] == [
        {"type": "repository", "name": "lib/app", "actions": ["pull", "push"]}
    ]


def test_each_token_has_a_fresh_jti():
    first, _, _ = mint("alice", [])
    second, _, _ = mint("alice", [])
    assert _segment(first, 1)["jti"] != _segment(second, 1)["jti"]


def test_scopes_without_actions_are_left_out_of_access():
    token, _, _ = mint("alice", [Scope("repository", "lib/app", frozenset())])
    assert _segment(token, 1)["access"] == []
    assert verify(token).access == {}


# --- verification --------------------------------------------------------------------------


def test_verify_accepts_a_hand_signed_token_with_our_key():
    claims = verify(_sign(_claims()))
    assert claims.allows("repository", "p/r", "pull")


def test_verify_refuses_token_signed_by_another_key():
    rogue = ec.generate_private_key(ec.SECP256R1())
    token = _sign(_claims(), key=rogue)  # even with our certificate in x5c
    with pytest.raises(InvalidToken):
        verify(token)


def test_verify_refuses_rs256_without_a_trusted_rsa_certificate(settings, tmp_path):
    # A data directory used by older runs may hold an RSA certificate: point elsewhere.
    settings.HARBOR = {**settings.HARBOR, "TOKEN_RSA_CERT_PATH": tmp_path / "token.crt"}
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken, match="no trusted key"):
        verify(_sign(_claims(), key=rogue, algorithm="RS256"))


def test_rs256_tokens_of_the_signer_before_es256_stay_valid(settings, tmp_path):
    """An install upgraded from RS256 keeps its RSA certificate: tokens already issued stay
    valid, while new ones are ES256; a rogue RSA key is still refused."""
    rsa_key, rsa_cert = tmp_path / "token.key", tmp_path / "token.crt"
    make_rsa_signing_material(rsa_key, rsa_cert)
    settings.HARBOR = {**settings.HARBOR, "TOKEN_RSA_CERT_PATH": rsa_cert}
    old = _sign(
        _claims(sub="before-upgrade"), key=keys.load_private_key(rsa_key), algorithm="RS256"
    )
    assert verify(old).subject == "before-upgrade"
    new, _, _ = mint("after-upgrade", [])
    assert jwt.get_unverified_header(new)["alg"] == "ES256"
    assert verify(new).subject == "after-upgrade"
    rogue = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken):
        verify(_sign(_claims(), key=rogue, algorithm="RS256"))
    # The EC key cannot pass for the RSA one, nor the other way round.
    with pytest.raises(InvalidToken):
        verify(_sign(_claims(), key=keys.load_private_key(rsa_key), algorithm="RS384"))


def test_certificate_bundle_holds_the_certificates_that_exist(tmp_path):
    ec_cert, rsa_cert, bundle = tmp_path / "ec.crt", tmp_path / "rsa.crt", tmp_path / "b.crt"
    keys.generate_signing_material(tmp_path / "ec.key", ec_cert, "issuer")
    assert keys.write_certificate_bundle(bundle, (ec_cert, rsa_cert)) == [ec_cert]
    assert bundle.read_bytes() == ec_cert.read_bytes()
    keys.generate_signing_material(
        tmp_path / "rsa.key",
        rsa_cert,
        "issuer",
        make_key=lambda: rsa.generate_private_key(65537, 2048),
    )
    assert keys.write_certificate_bundle(bundle, (ec_cert, rsa_cert)) == [ec_cert, rsa_cert]
    assert bundle.read_bytes() == ec_cert.read_bytes() + rsa_cert.read_bytes()


def test_verify_refuses_expired_token():
    now = int(time.time())
    token = _sign(_claims(exp=now - 90, iat=now - 400, nbf=now - 400))
    with pytest.raises(InvalidToken):
        verify(token)


def test_verify_leeway_is_sixty_seconds():
    now = int(time.time())
    inside = _sign(_claims(exp=now - 30, iat=now - 300, nbf=now - 300))
    assert verify(inside).subject == "alice"
    not_yet = _sign(_claims(nbf=now + 90))
    with pytest.raises(InvalidToken):
        verify(not_yet)


def test_verify_refuses_missing_exp():
    with pytest.raises(InvalidToken):
        verify(_sign(_claims(exp=None)))


@pytest.mark.parametrize(
    "overrides",
    [
        {"aud": "registry"},
        {"aud": None},
        {"iss": "harbor"},
        {"iss": None},
    ],
    ids=["wrong-aud", "missing-aud", "wrong-iss", "missing-iss"],
)
def test_verify_refuses_wrong_audience_or_issuer(overrides):
    with pytest.raises(InvalidToken):
        verify(_sign(_claims(**overrides)))


def test_verify_refuses_alg_none():
    header = {"alg": "none", "typ": "JWT"}
    token = f"{_b64url(header)}.{_b64url(_claims())}."
    with pytest.raises(InvalidToken):
        verify(token)


def test_verify_refuses_hs256_keyed_with_the_public_certificate():
    cert_pem = settings.HARBOR["TOKEN_CERT_PATH"].read_bytes()
    header = {"alg": "HS256", "typ": "JWT"}
    signing_input = f"{_b64url(header)}.{_b64url(_claims())}"
    signature = hmac.new(cert_pem, signing_input.encode(), hashlib.sha256).digest()
    token = signing_input + "." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verify(token)


@pytest.mark.parametrize("raw", ["", "garbage", "a.b.c", "....", "eyJhbGciOiJSUzI1NiJ9.e30."])
def test_verify_refuses_garbage(raw):
    with pytest.raises(InvalidToken):
        verify(raw)


def test_verify_refuses_tampered_payload():
    token = _sign(_claims())
    header, _, signature = token.split(".")
    forged = _claims(access=[{"type": "repository", "name": "p/r", "actions": ["delete"]}])
    with pytest.raises(InvalidToken):
        verify(f"{header}.{_b64url(forged)}.{signature}")


@pytest.mark.parametrize(
    "access",
    [
        "pull",
        [{"type": "repository", "name": "p/r", "actions": "pull"}],
        ["repository:p/r:pull"],
    ],
)
def test_verify_refuses_malformed_access(access):
    with pytest.raises(InvalidToken):
        verify(_sign(_claims(access=access)))


# --- scope parsing -------------------------------------------------------------------------


def test_parse_several_scopes_in_one_parameter_and_across_parameters():
    scopes = parse_scopes(
        ["repository:lib/a:pull,push registry:catalog:*", "repository:lib/b:delete"]
    )
    assert scopes == [
        Scope("repository", "lib/a", frozenset({"pull", "push"})),
        Scope("registry", "catalog", frozenset({"*"})),
        Scope("repository", "lib/b", frozenset({"delete"})),
    ]


def test_parse_scope_with_resource_class():
    assert parse_scopes(["repository(plugin):a/b:pull"]) == [Scope("repository", "a/b", PULL)]


@pytest.mark.parametrize(
    "raw",
    [
        "repository:lib/a",  # no actions part
        "repository::pull",  # no name
        ":lib/a:pull",  # no type
        "Repository:lib/a:pull",  # type is case-sensitive
        "repository:lib/a:PULL",  # actions are lower-case
        "repository:127.0.0.1:5000/lib/a:pull",  # registry host in the name
        "repository(Plugin):lib/a:pull",  # class is lower-case
        "repository:lib/a:pull;rm",
    ],
)
def test_parse_drops_malformed_scopes(raw):
    assert parse_scopes([raw]) == []


def test_parse_keeps_good_scopes_next_to_bad_ones():
    scopes = parse_scopes(["garbage repository:lib/a:pull :x: repository:lib/b:push"])
    assert scopes == [
        Scope("repository", "lib/a", PULL),
        Scope("repository", "lib/b", frozenset({"push"})),
    ]


def test_parse_empty():
    assert parse_scopes([]) == []
    assert parse_scopes(["", "   "]) == []


def test_parse_ignores_empty_action_items():
    assert parse_scopes(["repository:lib/a:pull,,push,"]) == [
        Scope("repository", "lib/a", frozenset({"pull", "push"}))
    ]
