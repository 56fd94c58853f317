"""Pulling the artifact to scan from the registry named in the scan request, with the
credentials the request carries, as Trivy's adapter does: a `Bearer` value is sent as is;
a `Basic` value (Harbor's robot credentials) is exchanged for a pull token at the realm the
registry's 401 challenge names. Blobs stream to a temporary file and their digest is
checked before anything reads them."""

from __future__ import annotations

import hashlib
import re
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

import httpx

MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
)
TIMEOUT = httpx.Timeout(30.0, connect=10.0)
_CHALLENGE = re.compile(r'(\w+)="([^"]*)"')


class PullError(Exception):
    pass


class Registry:
    def __init__(
        self,
        url: str,
        authorization: str,
        repository: str,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.repository = repository
        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=TIMEOUT, transport=transport)
        self.authorization = authorization
        self._bearer = authorization if authorization.lower().startswith("bearer ") else ""

    def close(self) -> None:
        self.client.close()

    def _token(self, challenge: str) -> str:
        params = dict(_CHALLENGE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise PullError(f"the registry's challenge names no realm: {challenge!r}")
        params.setdefault("scope", f"repository:{self.repository}:pull")
        headers = {"Authorization": self.authorization} if self.authorization else {}
        response = self.client.get(realm, params=params, headers=headers)
        if response.status_code != 200:
            raise PullError(f"token service answered {response.status_code}")
        body = response.json()
        token = body.get("token") or body.get("access_token")
        if not token:
            raise PullError("token service answered no token")
        return f"Bearer {token}"

    def _get(self, path: str, headers: dict[str, str], *, stream: bool = False) -> httpx.Response:
        for attempt in range(2):
            sent = dict(headers)
            if self._bearer:
                sent["Authorization"] = self._bearer
            request = self.client.build_request("GET", path, headers=sent)
            response = self.client.send(request, stream=stream, follow_redirects=True)
            challenge = response.headers.get("WWW-Authenticate", "")
            if (
                response.status_code == 401
                and attempt == 0
                and challenge.lower().startswith("bearer ")
                and not self.authorization.lower().startswith("bearer ")
            ):
                response.close()
                self._bearer = self._token(challenge[len("bearer ") :])
                continue
            return response
        raise AssertionError("unreachable")

    def manifest(self, reference: str) -> tuple[dict[str, Any], str]:
        response = self._get(
            f"/v2/{self.repository}/manifests/{reference}",
            {"Accept": ", ".join(MANIFEST_TYPES)},
        )
        if response.status_code != 200:
            raise PullError(f"manifest {reference}: registry answered {response.status_code}")
        if reference.startswith("sha256:"):
            actual = "sha256:" + hashlib.sha256(response.content).hexdigest()
            if actual != reference:
                raise PullError(f"manifest {reference}: content digest is {actual}")
        return response.json(), response.headers.get("Content-Type", "").split(";")[0]

    @contextmanager
    def blob(self, digest: str) -> Iterator[IO[bytes]]:
        """The blob in a temporary file, its digest checked, positioned at the start."""
        algorithm, _, expected = digest.partition(":")
        if algorithm != "sha256":
            raise PullError(f"blob {digest}: unsupported digest algorithm")
        response = self._get(f"/v2/{self.repository}/blobs/{digest}", {}, stream=True)
        with tempfile.TemporaryFile(prefix="harbor-scan-") as file:
            try:
                if response.status_code != 200:
                    raise PullError(f"blob {digest}: registry answered {response.status_code}")
                hasher = hashlib.sha256()
                for chunk in response.iter_bytes(1 << 20):
                    hasher.update(chunk)
                    file.write(chunk)
            finally:
                response.close()
            if hasher.hexdigest() != expected:
                raise PullError(f"blob {digest}: content does not match its digest")
            file.seek(0)
            yield file
