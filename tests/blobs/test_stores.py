"""Each blob store keeps, returns and deletes blobs, says when one is missing, and bounds
their lifetime; a store that is down or refuses a blob raises ``BlobError``."""

from __future__ import annotations

import io
import os
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from bgmigrate.blobs.directory import DirectoryBlobStore
from bgmigrate.blobs.redis_store import KEY_PREFIX, RedisBlobStore
from bgmigrate.blobs.s3 import S3BlobStore
from bgmigrate.blobs.stores import BlobStore
from bgmigrate.errors import BlobError, ConfigError, MissingBlobError
from bgmigrate.testing.s3_server import BUCKET, S3Server

TTL = 24 * 3600
DATA = os.urandom(70_000)


def new_key() -> str:
    return uuid.uuid4().hex


@pytest.fixture(params=["redis", "directory", "s3"])
def store(
    request: pytest.FixtureRequest,
    redis_url: str,
    tmp_path: Path,
    s3_server: S3Server,
    monkeypatch: pytest.MonkeyPatch,
) -> Iterator[BlobStore]:
    """A store of each kind, on a real Redis, a directory and a local S3 server."""
    if request.param == "redis":
        yield RedisBlobStore(redis_url, TTL, max_bytes=1024 * 1024)
    elif request.param == "directory":
        yield DirectoryBlobStore(f"file://{tmp_path}/blobs", TTL)
    else:
        for name, value in s3_server.environment().items():
            monkeypatch.setenv(name, value)
        yield S3BlobStore(f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}", TTL)


def fetched(store: BlobStore, key: str) -> bytes:
    target = io.BytesIO()
    store.fetch(key, target)
    return target.getvalue()


def test_a_blob_put_is_fetched_whole_then_deleted(store: BlobStore) -> None:
    key = new_key()
    store.put(key, io.BytesIO(DATA))
    assert fetched(store, key) == DATA
    store.delete([key, new_key()])  # a key already gone is ignored
    with pytest.raises(MissingBlobError, match=key):
        fetched(store, key)


def test_a_missing_blob_is_a_lookup_error(store: BlobStore) -> None:
    with pytest.raises(LookupError):
        fetched(store, new_key())


def test_the_redis_store_expires_blobs_and_refuses_large_ones(redis_url: str) -> None:
    store = RedisBlobStore(redis_url, TTL, max_bytes=1000)
    key = new_key()
    store.put(key, io.BytesIO(DATA[:1000]))
    with redis.Redis.from_url(redis_url) as client:
        assert 0 < client.ttl(KEY_PREFIX + key) <= TTL
    with pytest.raises(BlobError, match="BGMIGRATE_BLOB_REDIS_MAX_BYTES"):
        store.put(new_key(), io.BytesIO(DATA[:1001]))
    store.delete([key])


def test_a_store_that_is_down_raises_blob_error(tmp_path: Path) -> None:
    store = RedisBlobStore("redis://127.0.0.1:1/0", TTL, max_bytes=1000)
    with pytest.raises(BlobError, match=r"127\.0\.0\.1:1"):
        store.put(new_key(), io.BytesIO(b"x"))


def test_the_directory_store_sweeps_old_blobs_and_leaves_other_files(tmp_path: Path) -> None:
    store = DirectoryBlobStore(f"file://{tmp_path}", TTL)
    old, other = new_key(), tmp_path / "not-a-blob"
    store.put(old, io.BytesIO(b"old"))
    other.write_bytes(b"keep")
    two_days_ago = time.time() - 2 * TTL
    for path in (tmp_path / old, other):
        os.utime(path, (two_days_ago, two_days_ago))
    store._swept = 0.0  # the put above swept (nothing was old then): due again
    store.sweep_if_due()
    assert sorted(os.listdir(tmp_path)) == ["not-a-blob"]


def test_the_s3_store_sweeps_blobs_stored_before_the_cutoff(
    s3_server: S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in s3_server.environment().items():
        monkeypatch.setenv(name, value)
    store = S3BlobStore(f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}", TTL)
    key = new_key()
    store.put(key, io.BytesIO(b"old"))
    store._sweep(time.time() + 60)  # a cutoff in the future: every blob is old
    with pytest.raises(MissingBlobError):
        fetched(store, key)


def test_a_directory_that_cannot_be_created_is_a_config_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(ConfigError, match="cannot create the blob directory"):
        DirectoryBlobStore(f"file://{tmp_path}/file/blobs", TTL)
