"""A boto3 client for the registry's bucket (settings.HARBOR["S3"], what distribution's s3
driver is configured with), for the app's own reads: the health probe, upload sizes."""

from __future__ import annotations

from typing import Any

from django.conf import settings


def client_from_settings(*, timeout: float, attempts: int) -> Any:
    """attempts: botocore's max_attempts (retries, in its default retry mode)."""
    import boto3
    from botocore.config import Config

    s3 = settings.HARBOR["S3"]
    return boto3.client(
        "s3",
        region_name=s3["REGION"],
        endpoint_url=s3["ENDPOINT"] or None,
        aws_access_key_id=s3["ACCESS_KEY"] or None,
        aws_secret_access_key=s3["SECRET_KEY"] or None,
        use_ssl=s3["SECURE"],
        config=Config(
            s3={"addressing_style": "path"} if s3["ENDPOINT"] else {},
            connect_timeout=timeout,
            read_timeout=timeout,
            retries={"max_attempts": attempts},
        ),
    )
