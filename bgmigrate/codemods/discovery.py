"""Which files a run looks at: Python files under the given paths, minus excludes and
``.gitignore``d files, each with the dotted module name it has relative to its root."""

from __future__ import annotations

import dataclasses
import fnmatch
import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path

from bgmigrate.codemods.gitignore import GitIgnore, is_ignored
from bgmigrate.codemods.pyproject import CodemodConfig


@dataclasses.dataclass(frozen=True, order=True)
class SourceFile:
    """One file to analyse."""

    abs_path: Path
    """Absolute path: where the file is read and written."""
    display_path: str
    """Path shown in reports: relative to the working directory when the file is below it,
    else absolute; ``/``-separated."""
    module: str
    """Dotted module name counted from the path given, above any package it is part of
    (``app.tasks``; ``app`` for a package)."""


def module_name(relative: Path) -> str:
    """``app/tasks.py`` -> ``app.tasks``; ``app/__init__.py`` -> ``app``."""
    parts = list(relative.with_suffix("").parts)
    if parts and parts[-1] == "__init__" and len(parts) > 1:
        parts.pop()
    return ".".join(parts)


def package_root(directory: Path) -> Path:
    """The directory module names count from: above every enclosing package (``__init__.py``),
    and above a namespace package (no ``__init__.py``) that its own code imports by name."""
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        directory = directory.parent
    if directory.parent != directory and imports_itself(directory):
        return directory.parent
    return directory


_PROBE_FILES = 200
"""How many of a directory's files :func:`imports_itself` reads at most."""
_PROBE_BYTES = 65_536
"""How much of each file it reads: imports come first."""


def _sorted_entries(directory: str | Path) -> list[os.DirEntry[str]]:
    """The entries of ``directory`` by name; none if it cannot be read."""
    try:
        return sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return []


def _probe_files(entries: list[os.DirEntry[str]]) -> Iterator[Path]:
    """Regular ``.py`` files (no links, FIFOs or devices) among a directory's ``entries``, then
    in its non-hidden subdirectories (read only when these are reached)."""
    subdirectories = [
        e.path for e in entries if e.is_dir(follow_symlinks=False) and not e.name.startswith(".")
    ]
    inner = (entry for sub in subdirectories for entry in _sorted_entries(sub))
    for entry in itertools.chain(entries, inner):
        if entry.name.endswith(".py") and entry.is_file(follow_symlinks=False):
            yield Path(entry.path)


def imports_itself(directory: Path) -> bool:
    """Whether code in ``directory`` (its files and its subdirectories' files) imports one of
    its entries through the directory's name: ``from api.core import x`` in ``api/`` (no
    ``__init__.py``) makes ``api`` a namespace package whose modules are ``api.core...``, where
    a source root (``src/`` holding ``app/``) is never named in its own imports."""
    if not directory.name.isidentifier():
        return False
    pattern = re.compile(rf"^[ \t]*(?:from|import)[ \t]+{directory.name}\.(\w+)", re.MULTILINE)
    entries = _sorted_entries(directory)
    names = {Path(e.name).stem for e in entries}
    for path in itertools.islice(_probe_files(entries), _PROBE_FILES):
        try:
            with path.open("rb") as file:
                text = file.read(_PROBE_BYTES).decode("utf-8", errors="replace")
        except OSError:
            continue
        if any(match in names for match in pattern.findall(text)):
            return True
    return False


class Excludes:
    """Exclude patterns compiled once: plain names in a set, globs by their literal prefix.

    Testing each of 20,000 patterns with ``fnmatch`` for every file took 86 s for 2,000 files;
    here a name costs one set lookup, one dictionary lookup per character, and only the globs
    whose literal start it shares (plus those starting with a wildcard) are tried.
    """

    def __init__(self, patterns: tuple[str, ...]) -> None:
        self._plain: set[str] = set()
        self._by_prefix: dict[str, list[str]] = {}
        for pattern in patterns:
            prefix = re.split(r"[*?[]", pattern, maxsplit=1)[0]
            if prefix == pattern:
                self._plain.add(pattern)
            else:
                self._by_prefix.setdefault(prefix, []).append(pattern)
        self._compiled: dict[str, re.Pattern[str]] = {}

    def _glob_match(self, text: str) -> bool:
        for end in range(len(text) + 1):
            globs = self._by_prefix.get(text[:end])
            if globs is not None and self._regex(text[:end], globs).match(text):
                return True
        return False

    def _regex(self, prefix: str, globs: list[str]) -> re.Pattern[str]:
        """The globs sharing ``prefix`` as one regex, compiled when first needed (compiling
        20,000 up front costs seconds; most prefixes never occur in a tree)."""
        regex = self._compiled.get(prefix)
        if regex is None:
            regex = self._compiled[prefix] = re.compile("|".join(map(fnmatch.translate, globs)))
        return regex

    def __call__(self, relative: str, name: str) -> bool:
        """Whether the entry (its path relative to the root, and its name) is excluded."""
        if name in self._plain or relative in self._plain:
            return True
        return bool(self._by_prefix) and (self._glob_match(name) or self._glob_match(relative))


def _gitignore_stack(root: Path) -> list[GitIgnore]:
    """The ``.gitignore`` rules of ``root``'s ancestors up to the repository top."""
    stack: list[GitIgnore] = []
    for directory in [root, *root.parents]:
        rules = GitIgnore.load(directory)
        if rules is not None:
            stack.insert(0, rules)
        if (directory / ".git").exists():
            break
    return stack


def _walk(
    directory: Path, root: Path, config: CodemodConfig, excluded: Excludes, stack: list[GitIgnore]
) -> Iterator[Path]:
    if config.respect_gitignore:
        own = GitIgnore.load(directory)
        stack = [*stack, own] if own is not None else stack
    for entry in _sorted_entries(directory):
        path = Path(entry.path)
        relative = path.relative_to(root).as_posix()
        is_dir = entry.is_dir(follow_symlinks=False)
        if excluded(relative, entry.name):
            continue
        if config.respect_gitignore and is_ignored(path, is_dir, stack):
            continue
        if is_dir:
            yield from _walk(path, root, config, excluded, stack)
        elif entry.name.endswith((".py", ".pyi")) and entry.is_file():
            yield path


def discover(paths: list[Path], config: CodemodConfig, cwd: Path) -> Iterator[SourceFile]:
    """Every Python file under ``paths``; a file named explicitly is always included.

    Reports show paths relative to ``cwd`` when the file is below it; module names count from
    the directory given (or the file's directory), above any package it is part of.
    """
    seen: set[Path] = set()
    excluded = Excludes(config.exclude + config.extend_exclude + config.ignore)
    for given in paths:
        absolute = (cwd / given).resolve()
        if absolute.is_file():
            found: Iterator[Path] = iter([absolute])
        else:
            stack = _gitignore_stack(absolute.parent) if config.respect_gitignore else []
            found = _walk(absolute, absolute, config, excluded, stack)
        root = package_root(absolute if absolute.is_dir() else absolute.parent)
        for path in found:
            if path in seen:
                continue
            seen.add(path)
            try:
                display = path.relative_to(cwd).as_posix()
            except ValueError:
                display = path.as_posix()
            yield SourceFile(path, display, module_name(path.relative_to(root)))
