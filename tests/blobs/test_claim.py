"""The claim check's two ends without a worker: which values leave through the store, what is
refused at ``add_task``, what a failing store or broker does to a request, and what a worker
says about a blob it cannot find."""

from __future__ import annotations

import base64
import inspect
import io
import os
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI, UploadFile
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import BlobRef, LocalFile, Tasks, task
from bgmigrate.blobs.claim import FileKind
from bgmigrate.blobs.directory import DirectoryBlobStore
from bgmigrate.blobs.redeem import Claim
from bgmigrate.errors import BlobError, MissingBlobError, SerializationError
from tests.backends import RecordingBackend

RECORDING = "tests.backends:RecordingBackend"
DOWN = "tests.backends:DownBackend"
received: list[tuple[UploadFile, bytes]] = []


@task
def take_bytes(data: bytes) -> None:
    """Receives bytes."""


@task
def take_path(path: LocalFile) -> None:
    """Receives a handed-off file."""


@task
async def take_upload(upload: UploadFile) -> None:
    """Receives an upload and keeps what it read."""
    received.append((upload, await upload.read()))


@task
def take_optional_upload(upload: UploadFile | None = None) -> None:
    """Receives an upload, or none."""


@pytest.fixture(autouse=True)
def _clear() -> None:
    RecordingBackend.batches.clear()
    received.clear()


def blobs_in(directory: Path) -> list[str]:
    return [name for name in os.listdir(directory) if not name.startswith(".")]


def test_small_bytes_travel_in_the_message_and_large_ones_as_a_reference(tmp_path: Path) -> None:
    runtime = bgmigrate.configure(
        backend=RECORDING, blob_store=f"file://{tmp_path}", blob_inline_bytes=10
    )
    _, small = runtime.prepare(take_bytes, (b"x" * 10,), {})
    assert small.blobs == ()
    assert small.payload == {"args": [base64.b64encode(b"x" * 10).decode()], "kwargs": {}}
    _, large = runtime.prepare(take_bytes, (b"x" * 11,), {})
    (leaving,) = large.blobs
    assert large.payload == {"args": [leaving.ref.model_dump()], "kwargs": {}}
    assert leaving.ref.size == 11
    assert blobs_in(tmp_path) == [], "nothing is stored before the job is dispatched"


def test_a_file_without_a_blob_store_is_refused_at_add_task(tmp_path: Path) -> None:
    runtime = bgmigrate.configure(backend=RECORDING)
    (tmp_path / "a.pdf").write_bytes(b"%PDF")
    with pytest.raises(SerializationError, match=r"'path'.*LocalFile.*BGMIGRATE_BLOB_STORE"):
        runtime.prepare(take_path, (tmp_path / "a.pdf",), {})
    upload = UploadFile(io.BytesIO(b"x"), filename="x.txt")
    with pytest.raises(SerializationError, match=r"'upload'.*UploadFile.*BGMIGRATE_BLOB_STORE"):
        runtime.prepare(take_upload, (upload,), {})


def test_a_local_file_must_exist(tmp_path: Path) -> None:
    runtime = bgmigrate.configure(backend=RECORDING, blob_store=f"file://{tmp_path}")
    with pytest.raises(SerializationError, match=r"'path'.*LocalFile.*gone.pdf' is not a file"):
        runtime.prepare(take_path, (str(tmp_path / "gone.pdf"),), {})


def test_a_file_over_the_redis_store_limit_is_refused_at_add_task(redis_url: str) -> None:
    runtime = bgmigrate.configure(backend=RECORDING, blob_store=redis_url, blob_redis_max_bytes=100)
    upload = UploadFile(io.BytesIO(b"x" * 101), filename="big.bin")
    with pytest.raises(SerializationError, match=r"101 bytes.*BLOB_REDIS_MAX_BYTES=100"):
        runtime.prepare(take_upload, (upload,), {})


def ingest_app(workdir: Path) -> FastAPI:
    """An endpoint that writes the upload to a file and hands the file to a task."""
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/ingest")
    async def ingest(upload: UploadFile, tasks: Tasks) -> None:
        path = workdir / "upload.pdf"
        path.write_bytes(await upload.read())
        tasks.add_task(take_path, path)

    return app


def test_a_blob_store_that_is_down_fails_the_request_and_nothing_is_enqueued(
    tmp_path: Path,
) -> None:
    bgmigrate.configure(backend=RECORDING, blob_store="redis://127.0.0.1:1/0")
    with TestClient(ingest_app(tmp_path)) as client:
        response = client.post("/ingest", files={"upload": ("a.pdf", b"%PDF")})
    assert response.status_code == 503
    assert RecordingBackend.batches == []
    assert (tmp_path / "upload.pdf").exists(), "the request's file is not handed off"


def test_a_broker_that_is_down_fails_the_request_and_its_blobs_are_deleted(
    tmp_path: Path,
) -> None:
    store = tmp_path / "blobs"
    bgmigrate.configure(backend=DOWN, blob_store=f"file://{store}")
    with TestClient(ingest_app(tmp_path)) as client:
        response = client.post("/ingest", files={"upload": ("a.pdf", b"%PDF")})
    assert response.status_code == 503
    assert blobs_in(store) == []
    assert (tmp_path / "upload.pdf").exists(), "the request's file is not handed off"


def test_the_inprocess_backend_hands_the_very_upload_to_the_task(tmp_path: Path) -> None:
    bgmigrate.configure(blob_store=f"file://{tmp_path}")
    app = FastAPI(lifespan=bgmigrate.lifespan)
    sent: list[UploadFile] = []

    @app.post("/upload")
    async def upload(upload: UploadFile, tasks: Tasks) -> None:
        sent.append(upload)
        tasks.add_task(take_upload, upload)

    with TestClient(app) as client:
        assert client.post("/upload", files={"upload": ("a.txt", b"hello")}).status_code == 200
    ((given, content),) = received
    assert given is sent[0]
    assert content == b"hello", "the upload is still open when the task runs after the response"
    assert blobs_in(tmp_path) == [], "nothing is copied in-process"


def claim_for(store: DirectoryBlobStore | None, ref: BlobRef) -> Claim:
    signature = inspect.signature(take_path.func)
    return Claim(store, signature, {"path": FileKind.PATH}, ((ref,), {}))


def test_a_missing_blob_on_the_worker_is_a_clear_error(tmp_path: Path) -> None:
    store = DirectoryBlobStore(f"file://{tmp_path}", 3600)
    claim = claim_for(store, BlobRef(blob=uuid.uuid4().hex, size=1, filename="a.pdf"))
    with pytest.raises(MissingBlobError, match="BGMIGRATE_BLOB_TTL"), claim:
        pass


def test_a_worker_without_a_blob_store_says_so() -> None:
    claim = claim_for(None, BlobRef(blob=uuid.uuid4().hex, size=1))
    with pytest.raises(BlobError, match="BGMIGRATE_BLOB_STORE is not set on the worker"), claim:
        pass


def test_a_local_copy_stays_in_its_own_directory_and_is_removed_after_the_attempt(
    tmp_path: Path,
) -> None:
    store = DirectoryBlobStore(f"file://{tmp_path}/blobs", 3600)
    key = uuid.uuid4().hex
    store.put(key, io.BytesIO(b"%PDF"))
    claim = claim_for(store, BlobRef(blob=key, size=4, filename="../../escape.pdf"))
    with claim as (args, _):
        (copy,) = args
        assert copy.name == "escape.pdf"
        assert copy.read_bytes() == b"%PDF"
        assert copy.parent.name.startswith("bgmigrate-blob-")
    assert not copy.parent.exists()
    claim.release()
    assert blobs_in(tmp_path / "blobs") == []


def test_a_reference_must_name_a_blob_key() -> None:
    with pytest.raises(ValueError, match="pattern"):
        BlobRef(blob="../../etc/passwd", size=1)


def test_a_bytes_parameter_refuses_other_values_as_bytes() -> None:
    runtime = bgmigrate.configure(backend=RECORDING)
    with pytest.raises(SerializationError, match=r"'data'.*Input should be a valid bytes"):
        runtime.prepare(take_bytes, ("text",), {})


def test_an_optional_upload_travels_when_given_and_none_is_none(tmp_path: Path) -> None:
    runtime = bgmigrate.configure(backend=RECORDING, blob_store=f"file://{tmp_path}")
    upload = UploadFile(io.BytesIO(b"x"), filename="x.txt")
    _, given = runtime.prepare(take_optional_upload, (upload,), {})
    (leaving,) = given.blobs
    assert given.payload == {"args": [leaving.ref.model_dump()], "kwargs": {}}
    _, none = runtime.prepare(take_optional_upload, (None,), {})
    assert (none.blobs, none.payload) == ((), {"args": [None], "kwargs": {}})
