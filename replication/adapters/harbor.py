"""The harbor adapter: a Harbor (or harbor-py) is a docker-registry with a REST API, which
lists repositories and artifacts (with their tags, labels and accessories) in pages,
creates the destination projects and deletes tags alone."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import httpx

from replication.adapters.base import Inventory, SourceArtifact, TransferError
from replication.adapters.docker_registry import DockerRegistryAdapter


class HarborAdapter(DockerRegistryAdapter):
    def _api(self, path: str, params: dict[str, str]) -> httpx.Response:
        try:
            response = self.client.get(path, params=params, auth=self.credentials)
        except httpx.HTTPError as exc:
            raise TransferError(f"GET {self.endpoint.url}{path}: unreachable ({exc})") from exc
        return self._expect(response, 200, what=f"GET {path}")

    def repositories(self) -> list[str]:
        found, page = [], 1
        while True:
            items = self._api(
                "/api/v2.0/repositories", {"page": str(page), "page_size": "100"}
            ).json()
            found += [item["name"] for item in items]
            if len(items) < 100:
                return found
            page += 1

    def _harbor_artifacts(self, repository: str) -> Iterator[dict[str, Any]]:
        """The artifacts API of a Harbor: top-level artifacts with tags, labels and
        accessories, 100 a page."""
        project, _, rest = repository.partition("/")
        path = f"/api/v2.0/projects/{project}/repositories/{quote(quote(rest, safe=''), safe='')}"
        page = 1
        while True:
            params = {"page": str(page), "page_size": "100", "with_tag": "true"}
            params |= {"with_label": "true", "with_accessory": "true"}
            try:
                items = self._api(f"{path}/artifacts", params).json()
            except TransferError as exc:
                if exc.status == 404:
                    return  # no such repository (yet)
                raise
            yield from items
            if len(items) < 100:
                return
            page += 1

    def artifacts(self, repository: str) -> list[SourceArtifact]:
        """Top-level artifacts with their tags, labels and accessories."""
        found = []
        for item in self._harbor_artifacts(repository):
            tags = tuple(sorted(t["name"] for t in item.get("tags") or []))
            labels = frozenset(label["name"] for label in item.get("labels") or [])
            accessories = tuple(a["digest"] for a in item.get("accessories") or [])
            found.append(SourceArtifact(item["digest"], tags, labels, accessories))
        return found

    def inventory(self, repository: str) -> Inventory:
        tags: dict[str, str] = {}
        digests: set[str] = set()
        for item in self._harbor_artifacts(repository):
            digests.add(item["digest"])
            digests.update(a["digest"] for a in item.get("accessories") or [])
            tags.update((t["name"], item["digest"]) for t in item.get("tags") or [])
        return Inventory(tags, digests)

    def delete_tag(self, repository: str, tag: str) -> bool:
        project, _, rest = repository.partition("/")
        name = quote(quote(rest, safe=""), safe="")
        path = f"/api/v2.0/projects/{project}/repositories/{name}/artifacts/{tag}/tags/{tag}"
        try:
            response = self.client.delete(path, auth=self.credentials or httpx.USE_CLIENT_DEFAULT)
        except httpx.HTTPError as exc:
            raise TransferError(f"DELETE tag {repository}:{tag}: unreachable ({exc})") from exc
        if response.status_code == 404:
            return False
        self._expect(response, 200, what=f"DELETE tag {repository}:{tag}")
        return True

    def repositories_in(self, namespace: str) -> set[str] | None:
        found: set[str] = set()
        page = 1
        while True:
            try:
                params = {"page": str(page), "page_size": "100"}
                items = self._api(f"/api/v2.0/projects/{namespace}/repositories", params).json()
            except TransferError as exc:
                return set() if exc.status == 404 else None  # else: ask per repository
            found.update(item["name"] for item in items)
            if len(items) < 100:
                return found
            page += 1

    def ensure_namespace(self, namespace: str) -> bool:
        try:
            response = self.client.post(
                "/api/v2.0/projects",
                json={"project_name": namespace, "metadata": {"public": "false"}},
                auth=self.credentials or httpx.USE_CLIENT_DEFAULT,
            )
        except httpx.HTTPError as exc:
            raise TransferError(f"create project {namespace}: unreachable ({exc})") from exc
        self._expect(response, 201, 409, what=f"create project {namespace}")
        return response.status_code == 201
