"""Output of ``rewrite``: unified diffs ``git apply`` accepts, and atomic file replacement."""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
from pathlib import Path

_NO_NEWLINE = b"\\ No newline at end of file\n"


def unified_diff(path: str, before: bytes, after: bytes) -> bytes:
    """A plain ``git``-style unified diff of one file, in the file's own bytes and encoding."""
    lines = difflib.diff_bytes(
        difflib.unified_diff,
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        f"a/{path}".encode(),
        f"b/{path}".encode(),
        n=3,
    )
    out = [line if line.endswith(b"\n") else line + b"\n" + _NO_NEWLINE for line in lines]
    if not out:
        return b""
    return f"diff --git a/{path} b/{path}\n".encode() + b"".join(out)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a temporary file and a rename, keeping its mode.

    A symbolic link stays a link: its target is replaced.
    """
    path = path.resolve()
    mode = path.stat().st_mode & 0o7777
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".bgmigrate", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
