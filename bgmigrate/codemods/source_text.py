"""Reading a module's source as the analysis needs it: parsed without the compiler's
warnings, its suppression comments, and columns counted in characters rather than bytes."""

from __future__ import annotations

import ast
import dataclasses
import io
import re
import tokenize
import warnings
from collections.abc import Callable

from bgmigrate.codemods.facts import FileFacts, Location

_SUPPRESSION = re.compile(r"#\s*bgmigrate:\s*ignore\[([A-Za-z0-9,\s]+)\]")


def suppressions(text: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """``# bgmigrate: ignore[BGM101, BGM103]`` comments by line."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        if "bgmigrate:" not in line:
            continue
        for match in _SUPPRESSION.finditer(line):
            codes = tuple(c.strip().upper() for c in match.group(1).split(",") if c.strip())
            found.append((number, codes))
    return tuple(found)


def parse_quietly(source: bytes, path: str) -> ast.Module:
    """``ast.parse`` without the compiler's warnings about the user's code (``"\\d"``,
    ``1()``): they are not ours to print, and must not become errors."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ast.parse(source, filename=path)


def character_columns(facts: FileFacts, source: bytes) -> FileFacts:
    """``facts`` with ``ast``'s UTF-8 byte columns turned into character columns."""
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(source).readline)
        lines = source.decode(encoding).splitlines()
    except (SyntaxError, UnicodeDecodeError, LookupError):
        return facts

    def fix(at: Location) -> Location:
        if not 0 < at.line <= len(lines):
            return at
        prefix = lines[at.line - 1].lstrip("\ufeff").encode()[: at.column]
        return Location(at.line, len(prefix.decode("utf-8", errors="replace")))

    relocated = _relocate(facts, fix)
    assert isinstance(relocated, FileFacts)
    return relocated


def _relocate(value: object, fix: Callable[[Location], Location]) -> object:
    if isinstance(value, Location):
        return fix(value)
    if isinstance(value, tuple):
        return tuple(_relocate(item, fix) for item in value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {
            f.name: _relocate(getattr(value, f.name), fix) for f in dataclasses.fields(value)
        }
        return dataclasses.replace(value, **changes)
    return value
