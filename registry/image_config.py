"""What an artifact records from its config blob: Harbor's extra_attrs and build history.

The config is read once, at manifest push, with a hard size bound: straight from the
storage directory when it is local (in the push itself), otherwise from distribution (by
registry.pending_configs, after the push). Any failure leaves the attributes empty and never
fails the push.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

import httpx

from registry import storage_probe, upstream
from registry.manifests import IMAGE_CONFIGS, OCI_EMPTY_CONFIG, ParsedManifest

logger = logging.getLogger(__name__)

MAX_CONFIG_BYTES = 1024 * 1024
IMAGE_ATTRIBUTES = ("architecture", "os", "created", "author")


@dataclass(frozen=True)
class ImageConfig:
    extra_attrs: dict[str, Any]
    history: list[Any] | None = None  # None: not an image, no build_history addition


def _is_json(media_type: str) -> bool:
    return media_type.endswith(("+json", "/json"))


def parse_config(data: bytes, media_type: str) -> ImageConfig | None:
    """Harbor's rules: an image config gives architecture, os, created, author and its
    `config` object (and the history for build_history); any other JSON config is kept
    whole as extra_attrs."""
    if media_type == OCI_EMPTY_CONFIG or not _is_json(media_type):
        return None
    try:
        doc = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(doc, dict):
        return None
    if media_type not in IMAGE_CONFIGS:
        return ImageConfig(extra_attrs=doc)
    attrs: dict[str, Any] = {key: doc.get(key) for key in IMAGE_ATTRIBUTES}
    attrs["author"] = attrs["author"] or ""
    config = doc.get("config")
    attrs["config"] = config if isinstance(config, dict) else {}
    history = doc.get("history")
    return ImageConfig(extra_attrs=attrs, history=history if isinstance(history, list) else [])


def fetch_config(repository: str, parsed: ParsedManifest) -> ImageConfig | None:
    config = parsed.config
    if config is None:
        return None
    return fetch_config_blob(repository, config.digest, config.size, config.media_type)


def stored_config(parsed: ParsedManifest) -> ImageConfig | object | None:
    """The config read from local storage, None when there is nothing to record, or
    storage_probe.UNKNOWN when storage is not local (fetch it from distribution later)."""
    config = parsed.config
    if config is None or not _wanted(config.size, config.media_type):
        return None
    data = storage_probe.read_small_blob(config.digest, MAX_CONFIG_BYTES)
    return parse_config(data, config.media_type) if isinstance(data, bytes) else data


def _wanted(size: int, media_type: str) -> bool:
    return size <= MAX_CONFIG_BYTES and _is_json(media_type) and media_type != OCI_EMPTY_CONFIG


def fetch_config_blob(
    repository: str, digest: str, size: int, media_type: str
) -> ImageConfig | None:
    if not _wanted(size, media_type):
        return None
    data = storage_probe.read_small_blob(digest, MAX_CONFIG_BYTES)
    if not isinstance(data, bytes):  # storage not local, or not there: ask distribution
        try:
            data = upstream.fetch_small_blob(repository, digest, MAX_CONFIG_BYTES)
        except (httpx.HTTPError, upstream.BlobTooLarge, ValueError) as exc:
            logger.warning("config %s of %s not read: %s", digest, repository, exc)
            return None
    return parse_config(data, media_type)
