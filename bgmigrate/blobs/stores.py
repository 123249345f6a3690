"""Blob stores: where files wait for their job, each blob under a random key, for a bounded time.

A store keeps a blob ``BGMIGRATE_BLOB_TTL`` seconds at most: Redis expires the key itself; the
directory and S3 stores delete blobs older than that, at most every :data:`SWEEP_EVERY`
seconds, from the process that puts blobs (the web process). Every failure is a
:class:`~bgmigrate.errors.BlobError` (:class:`~bgmigrate.errors.MissingBlobError` for a blob
that is not there).
"""

from __future__ import annotations

import abc
import functools
import re
import threading
import time
from collections.abc import Sequence
from typing import BinaryIO, ClassVar

from bgmigrate.errors import ConfigError
from bgmigrate.settings import Settings
from bgmigrate.urls import is_redis_url, redact_url

BLOB_KEY = re.compile(r"[0-9a-f]{32}")
"""A blob's key: random hex, so that a key from a message cannot name anything else."""
SWEEP_EVERY = 600.0
"""Seconds between two sweeps of expired blobs (directory and S3 stores)."""


class BlobStore(abc.ABC):
    """Keeps blobs under keys for ``ttl`` seconds at most."""

    kind: ClassVar[str]
    """What the store is, for messages (``redis``, ``directory``, ``s3``)."""
    max_bytes: int | None = None
    """Largest blob the store takes (``None``: no limit of its own)."""

    def __init__(self, url: str, ttl: int) -> None:
        self.url = url
        self.ttl = ttl
        self._swept = 0.0
        self._sweep_lock = threading.Lock()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {redact_url(self.url)}>"

    @abc.abstractmethod
    def put(self, key: str, source: BinaryIO) -> None:
        """Store everything ``source`` holds from its current position under ``key``."""

    @abc.abstractmethod
    def fetch(self, key: str, target: BinaryIO) -> None:
        """Write the blob ``key`` to ``target``; ``MissingBlobError`` if there is none."""

    @abc.abstractmethod
    def delete(self, keys: Sequence[str]) -> None:
        """Delete the blobs ``keys`` (those already gone are ignored)."""

    def sweep_if_due(self) -> None:
        """Delete the blobs older than ``ttl`` if the last sweep is :data:`SWEEP_EVERY` old."""
        with self._sweep_lock:
            now = time.monotonic()
            if self._swept and now - self._swept < SWEEP_EVERY:
                return
            self._swept = now
        self._sweep(time.time() - self.ttl)

    def _sweep(self, cutoff: float) -> None:  # noqa: B027 - Redis expires keys by itself
        """Delete the blobs stored before ``cutoff`` (seconds since the epoch)."""


def configured_store(settings: Settings) -> BlobStore | None:
    """The blob store ``BGMIGRATE_BLOB_STORE`` names (one per process), ``None`` when unset;
    ``ConfigError`` if it cannot be used."""
    if settings.blob_store is None:
        return None
    return _open_store(settings.blob_store, settings.blob_ttl, settings.blob_redis_max_bytes)


@functools.cache
def _open_store(url: str, ttl: int, redis_max_bytes: int) -> BlobStore:
    # Imported here: choosing one store imports only its client library.
    if is_redis_url(url):
        from bgmigrate.blobs.redis_store import RedisBlobStore

        return RedisBlobStore(url, ttl, max_bytes=redis_max_bytes)
    if url.startswith("file://"):
        from bgmigrate.blobs.directory import DirectoryBlobStore

        return DirectoryBlobStore(url, ttl)
    try:
        from bgmigrate.blobs.s3 import S3BlobStore
    except ImportError as exc:
        raise ConfigError(
            f"BGMIGRATE_BLOB_STORE={redact_url(url)!r} needs boto3: "
            f"pip install 'bgmigrate[s3]' ({exc})"
        ) from exc
    return S3BlobStore(url, ttl)
