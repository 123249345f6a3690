"""Which files a run looks at: Python files under the given paths, minus excludes and
``.gitignore``d files, each with the dotted module name it has relative to its root."""

from __future__ import annotations

import dataclasses
import fnmatch
import os
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
    """The directory module names count from: above every enclosing package (``__init__.py``)."""
    while (directory / "__init__.py").is_file() and directory.parent != directory:
        directory = directory.parent
    return directory


def _excluded(relative: str, name: str, patterns: tuple[str, ...]) -> bool:
    return any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(relative, p) for p in patterns)


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
    directory: Path, root: Path, config: CodemodConfig, stack: list[GitIgnore]
) -> Iterator[Path]:
    patterns = config.exclude + config.extend_exclude + config.ignore
    if config.respect_gitignore:
        own = GitIgnore.load(directory)
        stack = [*stack, own] if own is not None else stack
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        path = Path(entry.path)
        relative = path.relative_to(root).as_posix()
        is_dir = entry.is_dir(follow_symlinks=False)
        if _excluded(relative, entry.name, patterns):
            continue
        if config.respect_gitignore and is_ignored(path, is_dir, stack):
            continue
        if is_dir:
            yield from _walk(path, root, config, stack)
        elif entry.name.endswith((".py", ".pyi")) and entry.is_file():
            yield path


def discover(paths: list[Path], config: CodemodConfig, cwd: Path) -> Iterator[SourceFile]:
    """Every Python file under ``paths``; a file named explicitly is always included.

    Reports show paths relative to ``cwd`` when the file is below it; module names count from
    the directory given (or the file's directory), above any package it is part of.
    """
    seen: set[Path] = set()
    for given in paths:
        absolute = (cwd / given).resolve()
        if absolute.is_file():
            found: Iterator[Path] = iter([absolute])
        else:
            stack = _gitignore_stack(absolute.parent) if config.respect_gitignore else []
            found = _walk(absolute, absolute, config, stack)
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
