"""Reading image configs off the push path, in batches, when storage is not local.

On local filesystem storage a push reads its config straight from the storage directory
(registry.image_config.stored_config). Otherwise (S3) it only adds the new artifact's id to
a Redis set (registry.config_queue, one round trip); the Celery task
registry.tasks.read_pending_configs (run by beat every few seconds) takes a batch, fetches
each config blob from distribution and fills extra_attrs and the build history. One task
per batch instead of one per push keeps Celery's own overhead off every push.
"""

from __future__ import annotations

import logging

from django.db import IntegrityError, transaction

from registry import config_queue
from registry.image_config import fetch_config_blob
from registry.models import Artifact, Blob
from registry.push import apply_image_config

logger = logging.getLogger(__name__)
BATCH = 500


def read_batch() -> int:
    ids = config_queue.take(BATCH)
    artifacts = Artifact.objects.filter(pk__in=ids).select_related("repository")
    done = 0
    for artifact in artifacts:
        config = (
            Blob.objects.filter(artifacts=artifact, content_type=artifact.media_type)
            .values("digest", "size")
            .first()
        )
        if config is None or artifact.extra_attrs:
            continue
        parsed = fetch_config_blob(
            artifact.repository.name, config["digest"], config["size"], artifact.media_type
        )
        if parsed is None:
            continue
        try:
            with transaction.atomic():
                apply_image_config(artifact, parsed)
        except IntegrityError:
            continue  # deleted meanwhile; the rest of the batch goes on
        done += 1
    return done
