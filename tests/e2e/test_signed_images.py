"""Signed images end to end (#23): skopeo signs while it pushes (a sigstore signature as a
cosign tag-scheme attachment, with a key in cosign's encrypted format), podman pulls with a
policy.json that requires sigstoreSigned by the public key, and the gate enforces the
project's content trust with its trusted key. Everything the clients read (auth file,
registries.d, policy, storage) is per test, never the shared home.

Debian 12's skopeo 1.9.3 and podman 4.3.1 are built with sigstore disabled (a Debian-local
patch: "sigstore disabled"). With those, the test signs in skopeo's format itself (skopeo
still pushes image and signature) and podman pulls without client-side verification, so
that the gate's check is what is tested. `make test-deps` builds an upstream skopeo with
sigstore into a cache (deploy/build-skopeo.sh), and an upstream podman
(deploy/build-podman.sh); with them, the clients sign and verify for real
(`test_upstream_skopeo_signs_and_verifies_with_policy_json`,
`test_upstream_podman_verifies_with_policy_json`)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import uuid
from pathlib import Path

import httpx
import pytest

from tests import signing
from tests.imagegen import ImageLayout, make_image
from tests.stack import ADMIN_PASSWORD, Instance

ADMIN = ("admin", ADMIN_PASSWORD)
TOOLS_CACHE = Path(os.environ.get("HARBOR_TOOLS_CACHE") or Path.home() / ".cache" / "harbor-py")
UPSTREAM_SKOPEO = TOOLS_CACHE / "skopeo" / "bin" / "skopeo"
UPSTREAM_PODMAN = TOOLS_CACHE / "podman" / "bin" / "podman"
pytestmark = pytest.mark.skipif(
    not (shutil.which("skopeo") and shutil.which("podman")), reason="needs skopeo and podman"
)


class Clients:
    def __init__(
        self, root: Path, stack: Instance, skopeo: str = "skopeo", podman: str = "podman"
    ) -> None:
        self.root, self.stack, self.skopeo, self.podman = root, stack, skopeo, podman
        home = root / "home"
        registries_d = home / ".config" / "containers" / "registries.d"
        registries_d.mkdir(parents=True)
        (registries_d / "harbor-py.yaml").write_text(
            f"docker:\n  {stack.host}:\n    use-sigstore-attachments: true\n"
        )
        self.registries_d = registries_d
        self.runroot = tempfile.mkdtemp(prefix="hp-sig-", dir="/tmp")
        (root / "auth.json").write_text('{"auths": {}}')
        # podman reads registries.d from $HOME; the auth file is ours too
        self.env = {**os.environ, "HOME": str(home), "REGISTRY_AUTH_FILE": str(root / "auth.json")}

    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(command, capture_output=True, text=True, env=self.env, timeout=300)
        if check and result.returncode != 0:
            raise AssertionError(f"{' '.join(command[:3])} failed:\n{result.stderr}")
        return result

    def copy(self, source: str, destination: str, *flags: str) -> subprocess.CompletedProcess[str]:
        return self.run(
            self.skopeo, "--insecure-policy", "--registries.d", str(self.registries_d), "copy",
            "--dest-tls-verify=false", f"--dest-creds={ADMIN[0]}:{ADMIN[1]}", *flags,
            source, destination, check=False,
        )  # fmt: skip

    def push_signed(self, image: ImageLayout, ref: str, key: Path, passphrase: Path) -> str:
        """skopeo signs while it pushes. Debian 12's skopeo 1.9.3 is built with sigstore
        disabled ("Debian-local change"): there the test signs the image itself, in the
        format skopeo writes (a cosign simple-signing payload under the
        `sha256-<hex>.sig` tag), and skopeo pushes the image and then the signature, as
        an OCI layout copied as it is. Returns who signed: "skopeo" or "test"."""
        flags = [
            "--sign-by-sigstore-private-key",
            str(key),
            "--sign-passphrase-file",
            str(passphrase),
        ]
        signed = self.copy(f"oci:{image.path}", f"docker://{ref}", *flags)
        if signed.returncode == 0:
            return "skopeo"
        if "sigstore disabled" not in signed.stderr:
            raise AssertionError(f"skopeo copy failed:\n{signed.stderr}")
        pushed = self.copy(f"oci:{image.path}", f"docker://{ref}")
        assert pushed.returncode == 0, pushed.stderr
        private = signing.load_cosign_private_key(key.read_bytes(), passphrase.read_bytes())
        doc, blobs = signing.cosign_signature(private, image.manifest_digest)
        layout = image.path.parent / f"{image.path.name}-signature"
        signing.write_layout(layout, doc, blobs)
        repository = ref.rsplit(":", 1)[0]
        tag = image.manifest_digest.replace(":", "-") + ".sig"
        copied = self.copy(f"oci:{layout}", f"docker://{repository}:{tag}", "--preserve-digests")
        assert copied.returncode == 0, copied.stderr
        return "test"

    def pull(self, ref: str, policy: Path) -> subprocess.CompletedProcess[str]:
        return self.run(
            self.podman, "--root", str(self.root / "storage"), "--runroot", self.runroot,
            "--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file",
            "--network-backend", "cni",
            "pull", "--tls-verify=false", f"--creds={ADMIN[0]}:{ADMIN[1]}",
            "--signature-policy", str(policy), ref,
            check=False,
        )  # fmt: skip


@pytest.fixture
def clients(stack: Instance, tmp_path: Path):
    made = Clients(tmp_path, stack)
    yield made
    shutil.rmtree(made.runroot, ignore_errors=True)


def _key_files(root: Path, name: str):
    key = signing.ec_key()
    private, passphrase, public = root / f"{name}.key", root / f"{name}.pass", root / f"{name}.pub"
    private.write_bytes(signing.cosign_private_key(key, b"s3cret-" + name.encode()))
    passphrase.write_text("s3cret-" + name)
    public.write_text(signing.public_pem(key))
    return key, private, passphrase, public


def _trusting_project(stack: Instance, prefix: str, ci_pub: Path) -> str:
    """A new project that trusts the key `ci` and has cosign content trust on."""
    project = f"{prefix}{uuid.uuid4().hex[:8]}"
    stack.create_project(project)
    with stack.client() as api:
        api.post(
            f"/api/v2.0/projects/{project}/trusted-keys",
            json={"name": "ci", "public_key": ci_pub.read_text()},
        ).raise_for_status()
        api.put(
            f"/api/v2.0/projects/{project}/metadatas/enable_content_trust_cosign",
            json={"enable_content_trust_cosign": "true"},
        ).raise_for_status()
    return project


def test_skopeo_signs_podman_verifies_and_the_gate_trusts_only_the_projects_key(
    stack: Instance, clients: Clients, tmp_path: Path
):
    _, ci_key, ci_pass, ci_pub = _key_files(tmp_path, "ci")
    _, other_key, other_pass, _ = _key_files(tmp_path, "other")
    project = _trusting_project(stack, "sig", ci_pub)

    good = make_image(tmp_path / "good", layer_sizes=[2048])
    bad = make_image(tmp_path / "bad", layer_sizes=[2048])
    repository = f"{stack.host}/{project}/app"
    signer = clients.push_signed(good, f"{repository}:v1", ci_key, ci_pass)
    clients.push_signed(bad, f"{repository}:v2", other_key, other_pass)

    policy = _policy(tmp_path / "policy.json", f"{stack.host}/{project}", ci_pub)
    pulled = clients.pull(f"{repository}:v1", policy)
    if "sigstore disabled" in pulled.stderr:
        # Debian 12's podman 4.3.1 is built without sigstore verification: the client
        # cannot check the signature, so pulls rely on the gate's check alone.
        policy.write_text(json.dumps({"default": [{"type": "insecureAcceptAnything"}]}))
        pulled = clients.pull(f"{repository}:v1", policy)
        verifier = "the gate only"
    else:
        verifier = "podman and the gate"
    print(f"signed by {signer}, verified by {verifier}")
    assert pulled.returncode == 0, pulled.stderr

    # recorded as a cosign accessory of v1, verified with the project's key
    with stack.client() as api:
        base = f"/api/v2.0/projects/{project}/repositories/app/artifacts"
        accessories = api.get(f"{base}/v1/accessories").json()
        assert [a["type"] for a in accessories] == ["signature.cosign"]
        signatures = api.get(f"{base}/v1/signatures").json()
        assert [(s["status"], s["key_name"]) for s in signatures] == [("verified", "ci")]

    # signed by a key the project does not trust: the gate refuses, and says why
    refused = clients.pull(f"{repository}:v2", policy)
    assert refused.returncode != 0
    assert "no trusted key verifies it (tried: ci)" in refused.stderr  # the gate's reason
    token = stack.token([f"repository:{project}/app:pull"], auth=ADMIN)["token"]
    with httpx.Client(base_url=stack.url) as registry:
        answer = registry.get(
            f"/v2/{project}/app/manifests/v2", headers={"Authorization": f"Bearer {token}"}
        )
        assert answer.status_code == 412, answer.text
        error = answer.json()["errors"][0]
        assert error["code"] == "PROJECT_POLICY_VIOLATION"
        assert "no trusted key verifies it (tried: ci)" in error["message"]
        # the signature itself stays pullable, so that clients can verify
        signature_tag = good.manifest_digest.replace(":", "-") + ".sig"
        assert (
            registry.get(
                f"/v2/{project}/app/manifests/{signature_tag}",
                headers={"Authorization": f"Bearer {token}"},
            ).status_code
            == 200
        )

    # deleting the subject deletes its signature: neither can be pulled any more
    with stack.client() as api:
        assert (
            api.delete(f"/api/v2.0/projects/{project}/repositories/app/artifacts/v1").status_code
            == 200
        )
    with httpx.Client(base_url=stack.url) as registry:
        gone = registry.get(
            f"/v2/{project}/app/manifests/{signature_tag}",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert gone.status_code == 404


def _policy(path: Path, scope: str, public_key: Path) -> Path:
    path.write_text(
        json.dumps(
            {
                "default": [{"type": "reject"}],
                "transports": {
                    "docker": {
                        scope: [
                            {
                                "type": "sigstoreSigned",
                                "keyPath": str(public_key),
                                "signedIdentity": {"type": "matchRepository"},
                            }
                        ]
                    }
                },
            }
        )
    )
    return path


@pytest.mark.skipif(
    not UPSTREAM_SKOPEO.exists(),
    reason=f"needs the upstream skopeo that `make test-deps` builds ({UPSTREAM_SKOPEO}; "
    "deploy/build-skopeo.sh says why it did not)",
)
def test_upstream_skopeo_signs_and_verifies_with_policy_json(stack: Instance, tmp_path: Path):
    """The real client end to end: upstream skopeo signs while it pushes (a key in
    cosign's encrypted format), the registry records and verifies skopeo's own signature
    with the project's trusted key, and skopeo verifies on pull with a policy.json that
    requires sigstoreSigned by the public key. Client and gate each refuse what they must."""
    clients = Clients(tmp_path, stack, skopeo=str(UPSTREAM_SKOPEO))
    _, ci_key, ci_pass, ci_pub = _key_files(tmp_path, "ci")
    _, other_key, other_pass, other_pub = _key_files(tmp_path, "other")
    project = _trusting_project(stack, "sigu", ci_pub)
    repository = f"{stack.host}/{project}/app"
    good = make_image(tmp_path / "good", layer_sizes=[2048])
    bad = make_image(tmp_path / "bad", layer_sizes=[2048])
    assert clients.push_signed(good, f"{repository}:v1", ci_key, ci_pass) == "skopeo"
    assert clients.push_signed(bad, f"{repository}:v2", other_key, other_pass) == "skopeo"

    def verify(tag: str, policy: Path) -> subprocess.CompletedProcess[str]:
        out = tmp_path / f"out-{uuid.uuid4().hex[:6]}"
        return clients.run(
            clients.skopeo, "--policy", str(policy), "--registries.d", str(clients.registries_d),
            "copy", "--src-tls-verify=false", f"--src-creds={ADMIN[0]}:{ADMIN[1]}",
            f"docker://{repository}:{tag}", f"dir:{out}",
            check=False,
        )  # fmt: skip

    scope = f"{stack.host}/{project}"
    trusts_ci = _policy(tmp_path / "ci-policy.json", scope, ci_pub)
    trusts_other = _policy(tmp_path / "other-policy.json", scope, other_pub)

    # skopeo verifies skopeo's signature with the public key, through the gate
    pulled = verify("v1", trusts_ci)
    assert pulled.returncode == 0, pulled.stderr
    # the registry read skopeo's signature and verified it with the project's key
    with stack.client() as api:
        base = f"/api/v2.0/projects/{project}/repositories/app/artifacts"
        assert [a["type"] for a in api.get(f"{base}/v1/accessories").json()] == ["signature.cosign"]
        signatures = api.get(f"{base}/v1/signatures").json()
        assert [(s["status"], s["key_name"]) for s in signatures] == [("verified", "ci")]

    # the gate allows v1 (signed by ci), but a client that trusts only `other` refuses it
    refused_by_client = verify("v1", trusts_other)
    assert refused_by_client.returncode != 0
    assert "Source image rejected" in refused_by_client.stderr, refused_by_client.stderr
    assert "cryptographic signature verification failed" in refused_by_client.stderr

    # v2 is signed by `other`, a key the project does not trust: the gate refuses first,
    # with its reason, even for a client that would accept the signature
    refused_by_gate = verify("v2", trusts_other)
    assert refused_by_gate.returncode != 0
    assert "no trusted key verifies it (tried: ci)" in refused_by_gate.stderr

    # an image with no signature: with content trust off, the gate serves it and the
    # client's policy refuses it
    with stack.client() as api:
        api.put(
            f"/api/v2.0/projects/{project}/metadatas/enable_content_trust_cosign",
            json={"enable_content_trust_cosign": "false"},
        ).raise_for_status()
    unsigned = make_image(tmp_path / "unsigned", layer_sizes=[1024])
    assert clients.copy(f"oci:{unsigned.path}", f"docker://{repository}:v3").returncode == 0
    no_signature = verify("v3", trusts_ci)
    assert no_signature.returncode != 0
    assert "Source image rejected" in no_signature.stderr, no_signature.stderr
    assert "A signature was required, but no signature exists" in no_signature.stderr


# podman 5 starts its network backend even for a pull: deploy/build-podman.sh builds it
# with CNI, whose plugins Debian 12 ships (containernetworking-plugins, with its podman).
CNI_PLUGINS = Path("/usr/lib/cni/bridge").exists()


@pytest.mark.skipif(
    not (UPSTREAM_SKOPEO.exists() and UPSTREAM_PODMAN.exists() and CNI_PLUGINS),
    reason=f"needs the upstream skopeo and podman that `make test-deps` builds "
    f"({UPSTREAM_SKOPEO}, {UPSTREAM_PODMAN}; deploy/build-skopeo.sh and "
    "deploy/build-podman.sh say why they did not), and Debian's CNI plugins",
)
def test_upstream_podman_verifies_with_policy_json(stack: Instance, tmp_path: Path):
    """Issue #23's podman: upstream skopeo pushes signed, and an upstream podman pulls
    with a policy.json that requires sigstoreSigned by the public key: the image signed by
    that key pulls (through the gate, which verified it with the project's key); one
    signed by another key and an unsigned one, which the gate serves once content trust
    is off, are refused by podman itself."""
    clients = Clients(tmp_path, stack, skopeo=str(UPSTREAM_SKOPEO), podman=str(UPSTREAM_PODMAN))
    try:
        _, ci_key, ci_pass, ci_pub = _key_files(tmp_path, "ci")
        _, other_key, other_pass, _ = _key_files(tmp_path, "other")
        project = _trusting_project(stack, "sigp", ci_pub)
        repository = f"{stack.host}/{project}/app"
        good = make_image(tmp_path / "good", layer_sizes=[2048])
        bad = make_image(tmp_path / "bad", layer_sizes=[2048])
        unsigned = make_image(tmp_path / "unsigned", layer_sizes=[1024])
        assert clients.push_signed(good, f"{repository}:v1", ci_key, ci_pass) == "skopeo"
        assert clients.push_signed(bad, f"{repository}:v2", other_key, other_pass) == "skopeo"
        assert clients.copy(f"oci:{unsigned.path}", f"docker://{repository}:v3").returncode == 0
        policy = _policy(tmp_path / "policy.json", f"{stack.host}/{project}", ci_pub)

        pulled = clients.pull(f"{repository}:v1", policy)
        assert pulled.returncode == 0, pulled.stderr
        # podman prints the ID of the image it stored: the config digest's hex
        assert pulled.stdout.split()[-1] == good.config_digest.removeprefix("sha256:")

        # the gate refuses v2 and v3 first; with content trust off it serves them, and
        # podman's policy refuses each
        with stack.client() as api:
            api.put(
                f"/api/v2.0/projects/{project}/metadatas/enable_content_trust_cosign",
                json={"enable_content_trust_cosign": "false"},
            ).raise_for_status()
        other_key_signed = clients.pull(f"{repository}:v2", policy)
        assert other_key_signed.returncode != 0
        assert "Source image rejected" in other_key_signed.stderr, other_key_signed.stderr
        assert "cryptographic signature verification failed" in other_key_signed.stderr
        no_signature = clients.pull(f"{repository}:v3", policy)
        assert no_signature.returncode != 0
        assert "A signature was required, but no signature exists" in no_signature.stderr, (
            no_signature.stderr
        )
    finally:
        shutil.rmtree(clients.runroot, ignore_errors=True)
