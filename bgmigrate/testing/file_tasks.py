"""Tasks that take files, for the claim-check tests; workers import this as a task module.

Each task writes what it received (name, size, SHA-256) to a Redis list through
:func:`bgmigrate.testing.conformance_tasks.write`, so a test sees it from another process.
"""

from __future__ import annotations

import hashlib
import os

from fastapi import UploadFile

from bgmigrate import LocalFile, RetryPolicy, task
from bgmigrate.testing.conformance_tasks import write


def digest(data: bytes) -> str:
    """The SHA-256 of ``data``, as the tasks report it."""
    return hashlib.sha256(data).hexdigest()


@task
async def read_upload(log: str, upload: UploadFile) -> None:
    """Report the upload's name, content type and content."""
    data = await upload.read()
    write(log, {"filename": upload.filename, "type": upload.content_type, "sha": digest(data)})


@task
def read_bytes(log: str, data: bytes) -> None:
    """Report the size and content of ``data``."""
    write(log, {"size": len(data), "sha": digest(data)})


@task
def ingest(log: str, path: LocalFile) -> None:
    """Read the handed-off file, report it, then remove it (as a real ingestion task does)."""
    data = path.read_bytes()
    write(log, {"name": path.name, "sha": digest(data)})
    os.unlink(path)


@task(retry=RetryPolicy(max_attempts=2, backoff=0))
def fail_with(log: str, data: bytes) -> None:
    """Report each attempt, then fail: its blob outlives the job (until the TTL)."""
    write(log, {"attempt_sha": digest(data)})
    raise RuntimeError("fails on purpose")
