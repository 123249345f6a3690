"""Per-file analysis results kept between runs, so a re-run on an unchanged tree is near-instant.

Entries are keyed by a hash of the file's bytes, its path and module name; the cache file
itself is named after the tool version (and a hash of the analysis code) and the
configuration fingerprint, so any change of either starts afresh. It lives in the project's
``.bgmigrate_cache/`` directory as plain JSON (never pickle: a cache file is data, and loading
it must not run code). A cache that cannot be read is ignored, never an error.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import os
import tempfile
import types
import typing
from collections.abc import Callable
from enum import Enum
from pathlib import Path
from typing import Any

from bgmigrate import __version__
from bgmigrate.codemods.facts import FileFacts, Hints

DIRECTORY = ".bgmigrate_cache"


@dataclasses.dataclass(frozen=True)
class Entry:
    """One file's settled facts and the project-wide hints they were analysed with."""

    facts: FileFacts
    hints: Hints


Entries = dict[str, Entry]


def key(data: bytes, display: str, module: str) -> str:
    """The cache key of one file's first-pass analysis."""
    digest = hashlib.sha256(data)
    digest.update(f"\0{display}\0{module}".encode(errors="surrogateescape"))
    return digest.hexdigest()


@functools.cache
def _code_fingerprint() -> str:
    """A hash of the analysis code itself, so a development build never reads stale facts."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def cache_file(root: Path, fingerprint: str) -> Path:
    """Where the entries for this tool version (and code) and configuration live."""
    return root / DIRECTORY / f"facts-{__version__}-{_code_fingerprint()}-{fingerprint}.json"


Decoder = Callable[[Any], Any]


def _identity(value: Any) -> Any:
    return value


@functools.cache
def _decoder(kind: Any) -> Decoder:
    """A function rebuilding a value of type ``kind`` (frozen dataclasses, tuples, enums,
    optionals) from JSON data; built once per type, so loading stays fast."""
    if dataclasses.is_dataclass(kind) and isinstance(kind, type):
        hints = typing.get_type_hints(kind)
        fields = [(f.name, _decoder(hints[f.name])) for f in dataclasses.fields(kind)]
        return lambda value: kind(**{name: decode(value[name]) for name, decode in fields})
    origin, args = typing.get_origin(kind), typing.get_args(kind)
    if origin is frozenset:
        member = _decoder(args[0])
        return lambda value: frozenset(map(member, value))
    if origin is tuple and len(args) == 2 and args[1] is Ellipsis:
        item = _decoder(args[0])
        return tuple if item is _identity else lambda value: tuple(map(item, value))
    if origin is tuple:
        items = [_decoder(arg) for arg in args]
        return lambda value: tuple(d(v) for d, v in zip(items, value, strict=True))
    if origin in (typing.Union, types.UnionType):
        present = _decoder(next(arg for arg in args if arg is not type(None)))
        return lambda value: None if value is None else present(value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind
    return _identity


def load(path: Path) -> Entries:
    """The stored entries, or none when the file is missing, unreadable or from elsewhere."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        decode = _decoder(Entry)
        return {k: decode(v) for k, v in data["entries"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return {}


def save(path: Path, entries: Entries) -> None:
    """Store ``entries`` atomically, dropping files of other versions or configurations; a
    cache that cannot be written is skipped silently."""
    document = {"entries": {k: dataclasses.asdict(v) for k, v in entries.items()}}
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        ignore = path.parent / ".gitignore"
        if not ignore.exists():
            ignore.write_text("*\n")
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(document, handle, default=sorted)  # frozensets as sorted lists
        os.replace(temporary, path)
        for stale in path.parent.glob("facts-*.json"):
            if stale != path:
                stale.unlink()
