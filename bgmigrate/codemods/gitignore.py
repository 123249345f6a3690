"""A small ``.gitignore`` matcher: enough of git's rules for excluding files from a scan.

Supported: comments, blank lines, ``!`` negation, trailing ``/`` (directories only), anchored
patterns (a leading or inner ``/``), ``*``, ``?``, ``[...]`` and ``**`` segments. Each
``.gitignore`` applies to its own directory and below, later lines winning over earlier ones.

Matching takes time linear in the path for every pattern: a path is matched one ``/``-separated
segment at a time, each segment by ``fnmatch``'s translation (which wraps the text between stars
in atomic groups, so ``*a*a*a*a*a*a*a*a*a*a*b`` cannot backtrack), and ``**`` segments by a
walk over the set of reachable segment positions. A plain regex translation (ours before, and
``pathspec``'s default backend) takes minutes for that pattern against one 40-character name.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import os
import re
import stat
from pathlib import Path

MAX_GITIGNORE_BYTES = 1_000_000
"""A ``.gitignore`` larger than this is not read (it is treated as absent)."""

_ANY = None
"""A ``**`` segment: any number of path segments."""


@dataclasses.dataclass(frozen=True)
class _Pattern:
    segments: tuple[re.Pattern[str] | None, ...]
    """One compiled glob per path segment; ``None`` for ``**``."""
    negated: bool
    dir_only: bool

    def matches(self, parts: list[str]) -> bool:
        """Whether the segments match ``parts`` (the relative path split on ``/``)."""
        reachable = {0}
        last = len(self.segments) - 1
        for i, segment in enumerate(self.segments):
            if not reachable:
                return False
            if segment is _ANY:
                # A trailing "**" matches what is inside, never the directory itself.
                first = min(reachable) + (1 if i == last else 0)
                reachable = set(range(first, len(parts) + 1))
            else:
                reachable = {j + 1 for j in reachable if j < len(parts) and segment.match(parts[j])}
        return len(parts) in reachable


def _segment(glob: str) -> re.Pattern[str] | None:
    if glob == "**":
        return _ANY
    # Inside a segment "**" is an ordinary star, as in git.
    return re.compile(fnmatch.translate(re.sub(r"\*\*+", "*", glob)))


def _compile(line: str) -> _Pattern | None:
    line = line.rstrip("\n").rstrip("\r")
    if not line.strip() or line.startswith("#"):
        return None
    negated = line.startswith("!")
    line = line[1:] if negated else line
    line = line.rstrip(" ")
    dir_only = line.endswith("/")
    line = line.rstrip("/")
    anchored = "/" in line
    globs = line.lstrip("/").split("/")
    if not anchored:
        globs = ["**", *globs]
    return _Pattern(tuple(map(_segment, globs)), negated, dir_only)


def read_regular(path: Path, limit: int) -> bytes | None:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes, else ``None``.

    Opened without blocking and checked on the open descriptor: a FIFO or a device (a link to
    ``/dev/zero``) is never read, and the check cannot race with a swap of the file.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        data = handle.read(limit + 1)
    return data if len(data) <= limit else None


class GitIgnore:
    """The ``.gitignore`` rules of one directory."""

    def __init__(self, directory: Path, lines: list[str]) -> None:
        self.directory = directory
        self._patterns = [p for p in map(_compile, lines) if p is not None]

    @classmethod
    def load(cls, directory: Path) -> GitIgnore | None:
        """The rules in ``directory/.gitignore``; ``None`` when there is none, or it is not a
        regular file of at most ``MAX_GITIGNORE_BYTES``."""
        data = read_regular(directory / ".gitignore", MAX_GITIGNORE_BYTES)
        if data is None:
            return None
        return cls(directory, data.decode("utf-8", errors="replace").splitlines())

    def match(self, path: Path, is_dir: bool) -> bool | None:
        """``True`` ignored, ``False`` re-included by ``!``, ``None`` when no pattern matches."""
        try:
            parts = path.relative_to(self.directory).as_posix().split("/")
        except ValueError:
            return None
        for pattern in reversed(self._patterns):
            if pattern.dir_only and not is_dir:
                continue
            if pattern.matches(parts):
                return not pattern.negated
        return None


def is_ignored(path: Path, is_dir: bool, stack: list[GitIgnore]) -> bool:
    """Whether the innermost matching rule of ``stack`` (outermost first) ignores ``path``."""
    for rules in reversed(stack):
        verdict = rules.match(path, is_dir)
        if verdict is not None:
            return verdict
    return False
