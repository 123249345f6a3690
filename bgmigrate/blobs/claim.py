"""The web side of the claim check: which parameters carry files, and handing their files over.

A task declares a file parameter by its annotation:

- ``UploadFile`` (FastAPI's or Starlette's): the upload goes to the blob store; the worker gets
  an ``UploadFile`` with the same content, file name and content type.
- :data:`LocalFile` (a ``pathlib.Path``): a file the request wrote is handed off to the task.
  It goes to the blob store and the web process deletes its own copy once the job is enqueued;
  the worker gets the path of a fetched copy, which the task may delete (and which is deleted
  after the attempt anyway).
- ``bytes``: a value larger than ``BGMIGRATE_BLOB_INLINE_BYTES`` goes to the blob store when one
  is set; smaller ones travel in the message.

At ``add_task`` such a value is replaced by a :class:`BlobRef` (nothing is stored yet: the
upload happens when the request's tasks are dispatched, off the event loop, see
:class:`Delivery`). A store that fails then refuses the request's tasks (``EnqueueError``: a
``503``); nothing is enqueued with a reference to a blob that was not stored.
"""

from __future__ import annotations

import enum
import io
import logging
import os
import types
import typing
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, BinaryIO

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag
from starlette.datastructures import UploadFile

from bgmigrate.errors import BlobError, EnqueueError, SerializationError

if TYPE_CHECKING:
    from types import TracebackType

    from bgmigrate.backend import Job
    from bgmigrate.blobs.stores import BlobStore

logger = logging.getLogger("bgmigrate")


class _HandedOff:
    """The marker that makes ``Annotated[Path, ...]`` a :data:`LocalFile`."""

    def __repr__(self) -> str:
        return "LocalFile"


LocalFile = Annotated[Path, _HandedOff()]
"""Annotate a task parameter ``path: LocalFile`` to hand a file the request wrote to the task:
on a queue backend it travels through the blob store and the worker gets a local copy's path."""


class FileKind(enum.Enum):
    """How a file parameter travels and what the worker gets back."""

    UPLOAD = "UploadFile"
    """An ``UploadFile``: always through the blob store."""
    PATH = "LocalFile"
    """A :data:`LocalFile` path: always through the blob store, handed off by the web process."""
    BYTES = "bytes"
    """``bytes``: through the blob store when larger than ``BGMIGRATE_BLOB_INLINE_BYTES``."""


class BlobRef(BaseModel):
    """What a job carries in place of a file: the blob's key and what to rebuild it with."""

    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    blob: Annotated[str, Field(pattern=r"^[0-9a-f]{32}$")]
    """The blob's key in the store (random hex: it cannot name anything else)."""
    size: Annotated[int, Field(ge=0)]
    """The blob's size in bytes."""
    filename: str | None = None
    """The upload's or the file's name."""
    content_type: str | None = None
    """The upload's content type."""


def file_parameter(annotation: Any) -> tuple[FileKind, Any] | None:
    """The kind of file a parameter annotated ``annotation`` carries and the type the codec
    validates it against on the wire, or ``None`` if it carries none. ``X | None`` carries
    what ``X`` does (``None`` travels as itself)."""
    args = typing.get_args(annotation)
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and type(None) in args:
        rest = [arg for arg in args if arg is not type(None)]
        inner = file_parameter(rest[0]) if len(rest) == 1 else None
        return None if inner is None else (inner[0], inner[1] | None)
    kind = _file_kind(annotation)
    return None if kind is None else (kind, _wire_type(kind))


def _file_kind(annotation: Any) -> FileKind | None:
    if typing.get_origin(annotation) is Annotated:
        if any(isinstance(meta, _HandedOff) for meta in typing.get_args(annotation)[1:]):
            return FileKind.PATH
        return None
    if annotation is bytes:
        return FileKind.BYTES
    if isinstance(annotation, type) and issubclass(annotation, UploadFile):
        return FileKind.UPLOAD
    return None


def _wire_type(kind: FileKind) -> Any:
    """A ``BlobRef``, or for ``bytes`` either (a JSON object is a reference, anything else is
    validated as ``bytes`` alone, so that errors speak of ``bytes``)."""
    if kind is not FileKind.BYTES:
        return BlobRef
    return Annotated[
        Annotated[bytes, Tag("bytes")] | Annotated[BlobRef, Tag("BlobRef")],
        Discriminator(_bytes_or_ref),
    ]


def _bytes_or_ref(value: Any) -> str:
    return "BlobRef" if isinstance(value, BlobRef | dict) else "bytes"


@dataclass(frozen=True)
class Outgoing:
    """A file to store before its job is handed over."""

    ref: BlobRef
    """The reference the job carries."""
    source: UploadFile | Path | bytes
    """What to store."""
    handed_off: Path | None = None
    """A :data:`LocalFile` the web process deletes once the job is enqueued."""

    @contextmanager
    def opened(self) -> Iterator[BinaryIO]:
        """A binary stream of the content, from its start (an upload's own file is left open:
        FastAPI closes it)."""
        if isinstance(self.source, bytes):
            yield io.BytesIO(self.source)
        elif isinstance(self.source, Path):
            with self.source.open("rb") as stream:
                yield stream
        else:
            upload: BinaryIO = self.source.file
            upload.seek(0)
            yield upload


@dataclass(frozen=True)
class ClaimPolicy:
    """What the web process may put in the blob store (from the settings)."""

    store: str | None
    """``BGMIGRATE_BLOB_STORE`` (``None``: no store)."""
    inline_bytes: int
    """``bytes`` values up to this size travel in the message."""
    max_bytes: int | None
    """Largest blob the store takes (the Redis store's limit)."""


def check_out(
    task_name: str,
    files: Mapping[str, FileKind],
    bound: dict[str, Any],
    policy: ClaimPolicy,
) -> list[Outgoing]:
    """Replace the file values in ``bound`` (arguments by parameter) by references, and return
    the files to store; ``SerializationError`` for a value that cannot travel."""
    outgoing = []
    for param, kind in files.items():
        if param not in bound:
            continue
        where = f"argument {param!r} of task {task_name!r}"
        leaving = _outgoing(kind, bound[param], policy, where)
        if leaving is None:
            continue
        if policy.store is None:
            raise SerializationError(
                f"{where} is a file ({kind.value}): set BGMIGRATE_BLOB_STORE (redis://..., "
                "file:///shared/dir or s3://bucket/prefix) so that it travels with its job"
            )
        if policy.max_bytes is not None and leaving.ref.size > policy.max_bytes:
            raise SerializationError(
                f"{where} is {leaving.ref.size} bytes, more than the Redis blob store takes "
                f"(BGMIGRATE_BLOB_REDIS_MAX_BYTES={policy.max_bytes}): use a file:// or s3:// "
                "BGMIGRATE_BLOB_STORE for files this large"
            )
        bound[param] = leaving.ref
        outgoing.append(leaving)
    return outgoing


def _outgoing(kind: FileKind, value: Any, policy: ClaimPolicy, where: str) -> Outgoing | None:
    """The file to store for ``value`` of a ``kind`` parameter, or ``None`` if it travels in
    the message (small ``bytes``, or a value of another type that the codec will refuse)."""
    if kind is FileKind.BYTES:
        if isinstance(value, bytes) and len(value) > policy.inline_bytes and policy.store:
            return Outgoing(_ref(len(value)), value)
        return None
    if kind is FileKind.UPLOAD and isinstance(value, UploadFile):
        return Outgoing(_ref(_upload_size(value), value.filename, value.content_type), value)
    if kind is FileKind.PATH and isinstance(value, str | os.PathLike):
        path = Path(value)
        if not path.is_file():
            raise SerializationError(f"{where} is a LocalFile, and {str(path)!r} is not a file")
        return Outgoing(_ref(path.stat().st_size, path.name), path, handed_off=path)
    return None


def _ref(size: int, filename: str | None = None, content_type: str | None = None) -> BlobRef:
    return BlobRef(blob=uuid.uuid4().hex, size=size, filename=filename, content_type=content_type)


def _upload_size(upload: UploadFile) -> int:
    if upload.size is not None:
        return upload.size
    stream = upload.file
    stream.seek(0, os.SEEK_END)
    return stream.tell()


class Delivery:
    """A batch's files, stored before its jobs are handed over; a context manager around the
    hand-over that deletes the handed-off files after it and the stored blobs if it fails."""

    def __init__(self, store: BlobStore | None, jobs: Sequence[Job]) -> None:
        self._store = store
        self._files = [leaving for job in jobs for leaving in job.blobs]

    def store(self) -> Delivery:
        """Put every file in the blob store (blocking I/O: call it off the event loop)."""
        if not self._files:
            return self
        assert self._store is not None, "check_out refuses files when no store is set"
        stored: list[str] = []
        try:
            for leaving in self._files:
                with leaving.opened() as stream:
                    self._store.put(leaving.ref.blob, stream)
                stored.append(leaving.ref.blob)
        except (BlobError, OSError, ValueError) as exc:
            self._discard(stored)
            raise EnqueueError(f"the request's files were not stored: {exc}") from exc
        return self

    def __enter__(self) -> Delivery:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        if exc is not None:
            self._discard([leaving.ref.blob for leaving in self._files])
            return
        for path in (leaving.handed_off for leaving in self._files if leaving.handed_off):
            try:
                path.unlink(missing_ok=True)
            except OSError as error:
                logger.warning("could not delete handed-off file %s: %r", path, error)

    def _discard(self, keys: list[str]) -> None:
        """Delete blobs of jobs that were not enqueued (else they wait for their TTL)."""
        if not keys or self._store is None:
            return
        try:
            self._store.delete(keys)
        except BlobError as exc:
            logger.warning("blobs of jobs not enqueued are left to expire: %r", exc)
