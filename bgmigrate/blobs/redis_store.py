"""The Redis blob store: small blobs (up to ``BGMIGRATE_BLOB_REDIS_MAX_BYTES``) as Redis keys
that expire after ``BGMIGRATE_BLOB_TTL`` seconds."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, BinaryIO

import redis

from bgmigrate.blobs.stores import BlobStore
from bgmigrate.errors import BlobError, MissingBlobError
from bgmigrate.urls import redact_url

KEY_PREFIX = "bgmigrate:blob:"
"""Redis key prefix of blobs."""


class RedisBlobStore(BlobStore):
    """Blobs as Redis strings, each read whole into memory: for small files only."""

    kind = "redis"

    def __init__(self, url: str, ttl: int, *, max_bytes: int) -> None:
        super().__init__(url, ttl)
        self.max_bytes = max_bytes
        self._client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=30)

    def put(self, key: str, source: BinaryIO) -> None:
        """Store ``source`` under ``key`` with the store's TTL; refused over ``max_bytes``."""
        assert self.max_bytes is not None
        data = source.read(self.max_bytes + 1)
        if len(data) > self.max_bytes:
            raise BlobError(
                f"a blob over {self.max_bytes} bytes cannot go to the Redis blob store "
                "(BGMIGRATE_BLOB_REDIS_MAX_BYTES): use a file:// or s3:// store"
            )
        self._call(lambda: self._client.set(KEY_PREFIX + key, data, ex=self.ttl))

    def fetch(self, key: str, target: BinaryIO) -> None:
        """Write blob ``key`` to ``target``."""
        data = self._call(lambda: self._client.get(KEY_PREFIX + key))
        if data is None:
            raise MissingBlobError(f"blob {key} is not in the Redis blob store {self!r}")
        target.write(data)

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the blobs ``keys``."""
        if keys:
            self._call(lambda: self._client.delete(*(KEY_PREFIX + key for key in keys)))

    def _call(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except (redis.RedisError, OSError) as exc:
            raise BlobError(f"Redis blob store {redact_url(self.url)!r}: {exc!r}") from exc
