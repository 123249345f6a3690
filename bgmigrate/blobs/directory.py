"""The directory blob store: one file per blob in a directory every web process and worker
mounts (``file:///shared/dir``: an NFS or EFS share, a volume shared by the containers)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from bgmigrate.blobs.stores import BLOB_KEY, BlobStore
from bgmigrate.errors import BlobError, ConfigError, MissingBlobError

PARTIAL_SUFFIX = ".part"
"""Suffix of a blob being written; it is renamed to its key once complete."""


class DirectoryBlobStore(BlobStore):
    """Blobs as files named by their key in one directory (created if missing)."""

    kind = "directory"

    def __init__(self, url: str, ttl: int) -> None:
        super().__init__(url, ttl)
        self.root = Path(unquote(urlsplit(url).path))
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"BGMIGRATE_BLOB_STORE: cannot create the blob directory {self.root} ({exc})"
            ) from exc

    def put(self, key: str, source: BinaryIO) -> None:
        """Write ``source`` to a partial file, then rename it: a reader never sees half a blob."""
        partial = self.root / f".{key}{PARTIAL_SUFFIX}"
        try:
            with partial.open("wb") as out:
                shutil.copyfileobj(source, out)
            os.replace(partial, self.root / key)
        except OSError as exc:
            partial.unlink(missing_ok=True)
            raise BlobError(f"blob directory {self.root}: {exc}") from exc
        self.sweep_if_due()

    def fetch(self, key: str, target: BinaryIO) -> None:
        """Copy blob ``key`` to ``target``."""
        try:
            with (self.root / key).open("rb") as blob:
                shutil.copyfileobj(blob, target)
        except FileNotFoundError as exc:
            raise MissingBlobError(f"blob {key} is not in the blob directory {self.root}") from exc
        except OSError as exc:
            raise BlobError(f"blob directory {self.root}: {exc}") from exc

    def delete(self, keys: Sequence[str]) -> None:
        """Delete the blobs ``keys``."""
        try:
            for key in keys:
                (self.root / key).unlink(missing_ok=True)
        except OSError as exc:
            raise BlobError(f"blob directory {self.root}: {exc}") from exc

    def _sweep(self, cutoff: float) -> None:
        for entry in os.scandir(self.root):
            if not BLOB_KEY.fullmatch(entry.name.removeprefix(".").removesuffix(PARTIAL_SUFFIX)):
                continue  # not ours: left alone
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
            except FileNotFoundError:  # another process swept it first
                continue
