"""What a blob store holds, read with each store's own client: the tests' observer."""

from __future__ import annotations

import os
from urllib.parse import urlsplit

import boto3
import redis

from bgmigrate.blobs.redis_store import KEY_PREFIX
from bgmigrate.blobs.stores import BLOB_KEY


def stored_keys(url: str) -> set[str]:
    """The keys of the blobs in the store at ``url`` (``AWS_*`` set for an S3 store)."""
    parts = urlsplit(url)
    if parts.scheme == "file":
        return {name for name in os.listdir(parts.path) if BLOB_KEY.fullmatch(name)}
    if parts.scheme == "s3":
        prefix = parts.path.strip("/") + "/"
        listing = boto3.client("s3").list_objects_v2(Bucket=parts.netloc, Prefix=prefix)
        return {item["Key"].removeprefix(prefix) for item in listing.get("Contents", [])}
    with redis.Redis.from_url(url) as client:
        return {key.decode().removeprefix(KEY_PREFIX) for key in client.scan_iter(KEY_PREFIX + "*")}
