"""Output of ``rewrite``: unified diffs ``git apply`` accepts, and atomic file replacement."""

from __future__ import annotations

import contextlib
import difflib
import errno
import os
import signal
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

_NO_NEWLINE = b"\\ No newline at end of file\n"


_C_ESCAPES = {ord("\t"): b"\\t", ord("\n"): b"\\n", ord('"'): b'\\"', ord("\\"): b"\\\\"}


def git_path(path: str) -> bytes:
    """``path`` as ``git`` writes it in a diff header: its own bytes (a name that is not UTF-8
    keeps them), quoted C-style when it holds a control character, a quote or a backslash, so
    a name with a newline cannot end the header line."""
    raw = os.fsencode(path)
    if not any(b < 0x20 or b in b'"\\\x7f' for b in raw):
        return raw
    quoted = b"".join(
        _C_ESCAPES.get(b) or (b"\\%03o" % b if b < 0x20 or b >= 0x7F else bytes([b])) for b in raw
    )
    return b'"' + quoted + b'"'


def unified_diff(path: str, before: bytes, after: bytes) -> bytes:
    """A plain ``git``-style unified diff of one file, in the file's own bytes and encoding."""
    old, new = git_path(f"a/{path}"), git_path(f"b/{path}")
    lines = difflib.diff_bytes(
        difflib.unified_diff,
        before.splitlines(keepends=True),
        after.splitlines(keepends=True),
        old,
        new,
        n=3,
    )
    out = [line if line.endswith(b"\n") else line + b"\n" + _NO_NEWLINE for line in lines]
    if not out:
        return b""
    return b"diff --git " + old + b" " + new + b"\n" + b"".join(out)


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """Ctrl-C (SIGINT) waits until the file is replaced or left as it was: an interrupt right
    after the temporary file is made, before anything can remove it, would leave it behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    received: list[int] = []
    previous = signal.signal(signal.SIGINT, lambda signum, _frame: received.append(signum))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
    if received:
        signal.raise_signal(signal.SIGINT)


def write_atomic(path: Path, data: bytes) -> None:
    """Replace ``path`` with ``data`` via a temporary file and a rename, keeping its mode.

    A symbolic link stays a link: its target is replaced. A read-only file is refused with
    ``PermissionError``: the rename needs only a writable directory, so without this check a
    0444 file would be replaced, by anyone who may write the directory and always by root.
    """
    path = path.resolve()
    mode = path.stat().st_mode & 0o7777
    if not mode & 0o222 or not os.access(path, os.W_OK):
        raise PermissionError(
            errno.EACCES, f"read-only file (mode {mode:04o}), not replaced", str(path)
        )
    with _interrupts_deferred():
        fd, temporary = tempfile.mkstemp(
            prefix=f".{path.name}.", suffix=".bgmigrate", dir=path.parent
        )
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
