"""Output of ``rewrite``: unified diffs ``git apply`` accepts, and atomic file replacement."""

from __future__ import annotations

import contextlib
import difflib
import os
import tempfile
from pathlib import Path

_NO_NEWLINE = "\\ No newline at end of file\n"


def _lines(data: bytes, encoding: str) -> list[str]:
    return data.decode(encoding).splitlines(keepends=True)


def unified_diff(path: str, before: bytes, after: bytes, encoding: str = "utf-8") -> str:
    """A plain ``git``-style unified diff of one file (``a/path`` -> ``b/path``)."""
    lines = difflib.unified_diff(
        _lines(before, encoding), _lines(after, encoding), f"a/{path}", f"b/{path}", n=3
    )
    out = []
    for line in lines:
        if line.endswith("\n"):
            out.append(line)
        else:
            out.append(line + "\n" + _NO_NEWLINE)
    if not out:
        return ""
    return f"diff --git a/{path} b/{path}\n" + "".join(out)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a temporary file and a rename, keeping its mode."""
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
