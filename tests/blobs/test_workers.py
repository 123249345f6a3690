"""Files travel with their job to real Celery and ARQ workers, on every blob store.

Each backend runs a real worker subprocess; each store is real: the test Redis, a directory,
and a local S3-compatible server (moto's server mode). An upload arrives as an ``UploadFile``,
a handed-off file as a local path, large ``bytes`` as ``bytes``; a job that succeeds deletes its
blobs, one that fails for good leaves them to their TTL.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import anyio
import pytest
import redis
from fastapi import FastAPI, UploadFile
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import Tasks
from bgmigrate.blobs.redis_store import KEY_PREFIX
from bgmigrate.errors import TaskFailed
from bgmigrate.testing import file_tasks
from bgmigrate.testing.conformance import TASK_MODULE, events, start_backend
from bgmigrate.testing.conformance_tasks import REDIS_URL_ENV
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.s3_server import BUCKET, S3Server
from bgmigrate.testing.workers import WorkerFactory
from tests.blobs.stored import stored_keys

BACKENDS = ["celery", "arq"]
STORES = ["redis", "directory", "s3"]
INLINE = 1024
"""``BGMIGRATE_BLOB_INLINE_BYTES`` in these tests: larger ``bytes`` go to the store."""
CONTENT = os.urandom(300_000)


@dataclass
class Setup:
    """A worker on one backend and one blob store, and the settings of its web side."""

    store_url: str
    settings: dict[str, Any]
    aws: dict[str, str]


@pytest.fixture(scope="module")
def _workers() -> Iterator[WorkerFactory]:
    factory = WorkerFactory()
    yield factory
    factory.close()


@pytest.fixture(scope="module", params=[(b, s) for b in BACKENDS for s in STORES], ids="-".join)
def setup(
    request: pytest.FixtureRequest,
    redis_url: str,
    _workers: WorkerFactory,
    s3_server: S3Server,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Setup]:
    backend, store = request.param
    store_url = {
        "redis": redis_url,
        "directory": f"file://{tmp_path_factory.mktemp('blobs')}",
        "s3": f"s3://{BUCKET}/{uuid.uuid4().hex[:8]}",
    }[store]
    aws = s3_server.environment() if store == "s3" else {}
    env = {
        "BGMIGRATE_BLOB_STORE": store_url,
        "BGMIGRATE_BLOB_INLINE_BYTES": str(INLINE),
        "BGMIGRATE_TASK_MODULES": f"{TASK_MODULE},{file_tasks.__name__}",
        **aws,
    }
    started = start_backend(backend, redis_url, _workers, env=env)
    assert started.worker is not None
    yield Setup(store_url, dict(started.settings), aws)
    started.worker.stop()


@pytest.fixture
def log(setup: Setup, redis_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A fresh event list, with the runtime on the backend and blob store under test."""
    monkeypatch.setenv(REDIS_URL_ENV, redis_url)
    for name, value in setup.aws.items():
        monkeypatch.setenv(name, value)
    bgmigrate.configure(**setup.settings)
    yield f"blobs:{uuid.uuid4().hex}"
    anyio.run(bgmigrate.get_runtime().close)


def make_app(workdir: Path) -> FastAPI:
    """Endpoints that hand an upload, a file they wrote, and bytes to tasks."""
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/upload")
    async def upload(log: str, upload: UploadFile, tasks: Tasks) -> None:
        tasks.add_task(file_tasks.read_upload, log, upload)

    @app.post("/ingest")
    async def ingest(log: str, upload: UploadFile, tasks: Tasks) -> str:
        path = workdir / (upload.filename or "upload")
        path.write_bytes(await upload.read())
        tasks.add_task(file_tasks.ingest, log, path)
        return str(path)

    @app.post("/bytes")
    async def raw(log: str, size: int, tasks: Tasks) -> None:
        tasks.add_task(file_tasks.read_bytes, log, CONTENT[:size])

    return app


def test_an_upload_arrives_as_an_upload_file_and_its_blob_is_deleted(
    setup: Setup, log: str, tmp_path: Path
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        files = {"upload": ("report.pdf", CONTENT, "application/pdf")}
        assert client.post("/upload", params={"log": log}, files=files).status_code == 200
    seen = events(log, 1)
    assert seen == [
        {"filename": "report.pdf", "type": "application/pdf", "sha": file_tasks.digest(CONTENT)}
    ]
    wait_until(lambda: not stored_keys(setup.store_url), timeout=30, what="blobs deleted")


def test_a_handed_off_file_arrives_as_a_local_copy_and_no_copy_is_left(
    setup: Setup, log: str, tmp_path: Path
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        files = {"upload": ("scan.pdf", CONTENT, "application/pdf")}
        response = client.post("/ingest", params={"log": log}, files=files)
    assert response.status_code == 200
    assert not Path(response.json()).exists(), "the web copy is deleted once the job is enqueued"
    assert events(log, 1) == [{"name": "scan.pdf", "sha": file_tasks.digest(CONTENT)}]
    wait_until(lambda: not stored_keys(setup.store_url), timeout=30, what="blobs deleted")


def test_large_bytes_go_through_the_store_and_small_ones_in_the_message(
    setup: Setup, log: str, tmp_path: Path
) -> None:
    with TestClient(make_app(tmp_path)) as client:
        for size in (INLINE + 1, 10):
            assert client.post("/bytes", params={"log": log, "size": size}).status_code == 200
    assert events(log, 2) == [
        {"size": size, "sha": file_tasks.digest(CONTENT[:size])} for size in (INLINE + 1, 10)
    ]
    wait_until(lambda: not stored_keys(setup.store_url), timeout=30, what="blobs deleted")


def test_a_job_that_fails_for_good_keeps_its_blob_for_a_retry_until_the_ttl(
    setup: Setup, log: str, redis_url: str
) -> None:
    handle = file_tasks.fail_with.enqueue(log, CONTENT)
    with pytest.raises(TaskFailed, match="fails on purpose"):
        handle.result(timeout=60)
    assert events(log, 2) == [{"attempt_sha": file_tasks.digest(CONTENT)}] * 2
    (kept,) = stored_keys(setup.store_url)
    if setup.store_url == redis_url:
        with redis.Redis.from_url(redis_url) as client:
            assert 0 < client.ttl(KEY_PREFIX + kept) <= 7 * 24 * 3600
    # Retrying the failed job within the TTL finds its blob: it fails again the same way.
    retried = bgmigrate.failed_jobs(bgmigrate.get_runtime().settings).retry(handle.id)
    with pytest.raises(TaskFailed, match="fails on purpose"):
        retried.result(timeout=60)
    assert events(log, 4) == [{"attempt_sha": file_tasks.digest(CONTENT)}] * 4
    assert stored_keys(setup.store_url) == {kept}
    bgmigrate.get_runtime().blob_store().delete([kept])  # type: ignore[union-attr]
