"""Per-file analysis results kept between runs, so a re-run on an unchanged tree is near-instant.

Entries are keyed by a hash of the file's bytes, its path and module name; the cache file
itself is named after the tool version and the configuration fingerprint, so any change of
either starts afresh. The file is written by bgmigrate for bgmigrate, in the project's
``.bgmigrate_cache/`` directory (pickle: it only ever holds our own frozen dataclasses and is
never read from anywhere else). A cache that cannot be read is ignored, never an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import tempfile
from pathlib import Path

from bgmigrate import __version__
from bgmigrate.codemods.facts import FileFacts

DIRECTORY = ".bgmigrate_cache"
Entries = dict[str, FileFacts]


def key(data: bytes, display: str, module: str) -> str:
    """The cache key of one file's first-pass analysis."""
    digest = hashlib.sha256(data)
    digest.update(f"\0{display}\0{module}".encode())
    return digest.hexdigest()


def cache_file(root: Path, fingerprint: str) -> Path:
    """Where the entries for this tool version and configuration live."""
    return root / DIRECTORY / f"facts-{__version__}-{fingerprint}.pickle"


def load(path: Path) -> Entries:
    """The stored entries, or none when the file is missing or unreadable."""
    try:
        with path.open("rb") as handle:
            entries = pickle.load(handle)
    except (OSError, pickle.UnpicklingError, EOFError, AttributeError, ImportError):
        return {}
    return entries if isinstance(entries, dict) else {}


def save(path: Path, entries: Entries) -> None:
    """Store ``entries`` atomically; a cache that cannot be written is skipped silently."""
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            pickle.dump(entries, handle, protocol=pickle.HIGHEST_PROTOCOL)
        os.replace(temporary, path)
