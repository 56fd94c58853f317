"""The image's bill of materials as CycloneDX 1.5 JSON (cyclonedx-python-lib) and SPDX 2.3
JSON (spdx-tools): the image as the root component/package, every package found as a
component/package with its package URL, contained in the image."""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

CYCLONEDX = "application/vnd.cyclonedx+json"
SPDX = "application/spdx+json"
MEDIA_TYPES = (SPDX, CYCLONEDX)
TOOL = "harbor-py-scanner"


def cyclonedx(artifact: dict[str, Any], packages: list[dict[str, Any]]) -> dict[str, Any]:
    from cyclonedx.model.bom import Bom
    from cyclonedx.model.component import Component, ComponentType
    from cyclonedx.output.json import JsonV1Dot5
    from packageurl import PackageURL

    bom = Bom()
    root = Component(
        name=artifact.get("repository", ""),
        version=artifact.get("digest", ""),
        type=ComponentType.CONTAINER,
        bom_ref="image",
    )
    bom.metadata.component = root
    children = []
    for number, package in enumerate(packages):
        component = Component(
            name=package["name"],
            version=package["version"],
            type=ComponentType.LIBRARY,
            purl=PackageURL.from_string(package["purl"]),
            bom_ref=f"pkg-{number}",
        )
        bom.components.add(component)
        children.append(component)
    bom.register_dependency(root, children)
    return json.loads(JsonV1Dot5(bom).output_as_string())


def spdx(
    artifact: dict[str, Any], packages: list[dict[str, Any]], created: datetime
) -> dict[str, Any]:
    from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
    from spdx_tools.spdx.model import (
        Actor,
        ActorType,
        CreationInfo,
        Document,
        ExternalPackageRef,
        ExternalPackageRefCategory,
        Package,
        Relationship,
        RelationshipType,
        SpdxNoAssertion,
    )

    name = f"{artifact.get('repository', '')}@{artifact.get('digest', '')}"
    info = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id="SPDXRef-DOCUMENT",
        name=name,
        document_namespace=f"https://harbor-py.invalid/spdx/{uuid.uuid4()}",
        creators=[Actor(ActorType.TOOL, TOOL)],
        created=created.replace(microsecond=0, tzinfo=None),
    )
    image = Package(
        spdx_id="SPDXRef-Image",
        name=name,
        download_location=SpdxNoAssertion(),
        version=artifact.get("digest", ""),
        files_analyzed=False,
    )
    items = [image]
    relationships = [Relationship("SPDXRef-DOCUMENT", RelationshipType.DESCRIBES, "SPDXRef-Image")]
    for number, package in enumerate(packages):
        spdx_id = f"SPDXRef-Package-{number}"
        items.append(
            Package(
                spdx_id=spdx_id,
                name=package["name"],
                download_location=SpdxNoAssertion(),
                version=package["version"],
                files_analyzed=False,
                external_references=[
                    ExternalPackageRef(
                        ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", package["purl"]
                    )
                ],
            )
        )
        relationships.append(Relationship("SPDXRef-Image", RelationshipType.CONTAINS, spdx_id))
    document = Document(info, packages=items, relationships=relationships)
    return DocumentConverter().convert(document)
