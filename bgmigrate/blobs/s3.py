"""The S3 blob store: blobs as objects under ``s3://bucket/prefix`` (AWS S3, MinIO, Ceph, R2...).

boto3 finds credentials, region and endpoint the standard way (``AWS_ACCESS_KEY_ID``,
``AWS_DEFAULT_REGION``, ``AWS_ENDPOINT_URL`` for an S3-compatible server, instance roles...).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any, BinaryIO
from urllib.parse import urlsplit

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from bgmigrate.blobs.stores import BLOB_KEY, BlobStore
from bgmigrate.errors import BlobError, MissingBlobError

_MISSING = {"404", "NoSuchKey", "NotFound"}
"""Error codes S3-compatible servers answer for a missing object."""
_CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=60, retries={"max_attempts": 3})


class S3BlobStore(BlobStore):
    """Blobs as objects named ``<prefix>/<key>`` in one bucket."""

    kind = "s3"

    def __init__(self, url: str, ttl: int) -> None:
        super().__init__(url, ttl)
        parts = urlsplit(url)
        self.bucket = parts.netloc
        self.prefix = parts.path.strip("/") + "/" if parts.path.strip("/") else ""
        self._client = boto3.client("s3", config=_CLIENT_CONFIG)

    def put(self, key: str, source: BinaryIO) -> None:
        """Upload ``source`` as object ``<prefix><key>`` (multipart when it is large)."""
        self._call(lambda: self._client.upload_fileobj(source, self.bucket, self.prefix + key))
        self.sweep_if_due()

    def fetch(self, key: str, target: BinaryIO) -> None:
        """Download object ``<prefix><key>`` to ``target``."""
        self._call(
            lambda: self._client.download_fileobj(self.bucket, self.prefix + key, target), key
        )

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the objects of ``keys`` (up to 1,000 per request, as S3 allows)."""
        for start in range(0, len(keys), 1000):
            objects = [{"Key": self.prefix + key} for key in keys[start : start + 1000]]
            self._call(
                lambda objects=objects: self._client.delete_objects(  # type: ignore[misc]
                    Bucket=self.bucket, Delete={"Objects": objects, "Quiet": True}
                )
            )

    def _sweep(self, cutoff: float) -> None:
        expired = datetime.fromtimestamp(cutoff, UTC)
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self.bucket, Prefix=self.prefix
        )
        old = [
            item["Key"].removeprefix(self.prefix)
            for page in self._call(lambda: list(pages))
            for item in page.get("Contents", [])
            if item["LastModified"] < expired
            and BLOB_KEY.fullmatch(item["Key"].removeprefix(self.prefix))
        ]
        self.delete(old)

    def _call(self, call: Callable[[], Any], key: str | None = None) -> Any:
        try:
            return call()
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code"))
            if key is not None and code in _MISSING:
                raise MissingBlobError(
                    f"blob {key} is not in the S3 blob store s3://{self.bucket}/{self.prefix}"
                ) from exc
            raise BlobError(f"S3 blob store s3://{self.bucket}/{self.prefix}: {exc}") from exc
        except (BotoCoreError, OSError) as exc:
            raise BlobError(f"S3 blob store s3://{self.bucket}/{self.prefix}: {exc}") from exc
