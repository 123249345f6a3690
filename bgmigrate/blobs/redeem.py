"""The worker side of the claim check: fetch a job's files, run it, delete them if it succeeded.

A :class:`Claim` turns the ``BlobRef`` references a decoded call holds back into the annotated
types: an ``UploadFile`` (a spooled temporary file), ``bytes``, or the path of a copy in a
fresh temporary directory (a :data:`~bgmigrate.blobs.claim.LocalFile`). Local copies are
removed after each attempt; the blobs are deleted from the store only once the job succeeds,
so that a retry (or ``bgmigrate jobs retry`` of a failed job, within ``BGMIGRATE_BLOB_TTL``)
finds them again.
"""

from __future__ import annotations

import inspect
import io
import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any, BinaryIO

from starlette.datastructures import Headers, UploadFile

from bgmigrate.blobs.claim import BlobRef, FileKind
from bgmigrate.blobs.stores import BlobStore
from bgmigrate.errors import BlobError, MissingBlobError

logger = logging.getLogger("bgmigrate.worker")

SPOOL_BYTES = 1024 * 1024
"""An ``UploadFile`` rebuilt on a worker stays in memory up to this size, as Starlette's do."""

Call = tuple[tuple[Any, ...], dict[str, Any]]


class Claim:
    """The files of one decoded call: :meth:`open` fetches them, :meth:`close` removes the
    local copies, :meth:`release` deletes the blobs after a success."""

    def __init__(
        self,
        store: BlobStore | None,
        signature: inspect.Signature,
        files: Mapping[str, FileKind],
        call: Call,
    ) -> None:
        self._store = store
        self._call = call
        self._bound = signature.bind(*call[0], **call[1])
        self._refs: dict[str, tuple[FileKind, BlobRef]] = {}
        for param, kind in files.items():
            value = self._bound.arguments.get(param)
            if isinstance(value, BlobRef):
                self._refs[param] = (kind, value)
        self._copies: list[Path | IO[bytes]] = []

    @property
    def has_files(self) -> bool:
        """Whether the call carries references to fetch."""
        return bool(self._refs)

    def __enter__(self) -> Call:
        return self.open()

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def open(self) -> Call:
        """The call with every reference replaced by its file (blocking I/O);
        ``MissingBlobError`` if a blob is gone, ``BlobError`` if the store fails."""
        if not self._refs:
            return self._call
        try:
            return self._fetch_all()
        except BaseException:
            self.close()
            raise

    def _fetch_all(self) -> Call:
        if self._store is None:
            raise BlobError(
                "this job carries files but BGMIGRATE_BLOB_STORE is not set on the worker: set "
                "it to the web process's blob store"
            )
        arguments = dict(self._bound.arguments)
        for param, (kind, ref) in self._refs.items():
            arguments[param] = self._fetch(kind, ref)
        rebound = inspect.BoundArguments(self._bound.signature, arguments)
        return rebound.args, rebound.kwargs

    def close(self) -> None:
        """Remove the local copies of this attempt (the task may have removed them already)."""
        for copy in self._copies:
            if isinstance(copy, Path):
                shutil.rmtree(copy, ignore_errors=True)
            else:
                copy.close()
        self._copies.clear()

    def release(self) -> None:
        """Delete the blobs: the job succeeded. A failure is logged; the TTL removes them."""
        if not self._refs or self._store is None:
            return
        try:
            self._store.delete([ref.blob for _, ref in self._refs.values()])
        except BlobError as exc:
            logger.warning("blobs of a finished job are left to expire: %r", exc)

    def _fetch(self, kind: FileKind, ref: BlobRef) -> Any:
        assert self._store is not None
        try:
            if kind is FileKind.BYTES:
                buffer = io.BytesIO()
                self._store.fetch(ref.blob, buffer)
                return buffer.getvalue()
            if kind is FileKind.UPLOAD:
                return self._upload(ref)
            return self._local_copy(ref)
        except MissingBlobError as exc:
            raise MissingBlobError(
                f"{exc}: it expired (BGMIGRATE_BLOB_TTL), was deleted when this job succeeded "
                "before, or the web process and this worker use different BGMIGRATE_BLOB_STORE"
            ) from exc

    def _upload(self, ref: BlobRef) -> UploadFile:
        assert self._store is not None
        spool: BinaryIO = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # type: ignore[assignment]  # noqa: SIM115 - closed by close()
        self._copies.append(spool)
        self._store.fetch(ref.blob, spool)
        spool.seek(0)
        headers = Headers({"content-type": ref.content_type} if ref.content_type else {})
        return UploadFile(spool, size=ref.size, filename=ref.filename, headers=headers)

    def _local_copy(self, ref: BlobRef) -> Path:
        assert self._store is not None
        directory = Path(tempfile.mkdtemp(prefix="bgmigrate-blob-"))
        self._copies.append(directory)
        # Only the name's last part, so that a crafted name cannot point out of the directory.
        name = Path(ref.filename or "").name
        copy = directory / (name if name not in ("", ".", "..") else ref.blob)
        with copy.open("wb") as target:
            self._store.fetch(ref.blob, target)
        return copy
