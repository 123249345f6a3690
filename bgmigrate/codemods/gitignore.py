"""A small ``.gitignore`` matcher: enough of git's rules for excluding files from a scan.

Supported: comments, blank lines, ``!`` negation, trailing ``/`` (directories only), anchored
patterns (a leading or inner ``/``), ``*``, ``?``, ``[...]`` and ``**``. Each ``.gitignore``
applies to its own directory and below, later lines winning over earlier ones.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path


@dataclasses.dataclass(frozen=True)
class _Pattern:
    regex: re.Pattern[str]
    negated: bool
    dir_only: bool


def _translate(glob: str) -> str:
    """Turn one gitignore glob into a regex over ``/``-separated relative paths."""
    out: list[str] = []
    i = 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif glob[i] == "*":
            out.append("[^/]*")
            i += 1
        elif glob[i] == "?":
            out.append("[^/]")
            i += 1
        elif glob[i] == "[" and "]" in glob[i + 1 :]:
            end = glob.index("]", i + 1)
            out.append("[" + glob[i + 1 : end].replace("!", "^", 1) + "]")
            i = end + 1
        else:
            out.append(re.escape(glob[i]))
            i += 1
    return "".join(out)


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
    line = line.lstrip("/")
    prefix = "" if anchored else "(?:.*/)?"
    return _Pattern(re.compile(f"^{prefix}{_translate(line)}$"), negated, dir_only)


class GitIgnore:
    """The ``.gitignore`` rules of one directory."""

    def __init__(self, directory: Path, lines: list[str]) -> None:
        self.directory = directory
        self._patterns = [p for p in map(_compile, lines) if p is not None]

    @classmethod
    def load(cls, directory: Path) -> GitIgnore | None:
        """The rules in ``directory/.gitignore``, or ``None`` when there is none."""
        try:
            text = (directory / ".gitignore").read_text(encoding="utf-8", errors="replace")
        except OSError:
            return None
        return cls(directory, text.splitlines())

    def match(self, path: Path, is_dir: bool) -> bool | None:
        """``True`` ignored, ``False`` re-included by ``!``, ``None`` when no pattern matches."""
        try:
            relative = path.relative_to(self.directory).as_posix()
        except ValueError:
            return None
        verdict: bool | None = None
        for pattern in self._patterns:
            if pattern.dir_only and not is_dir:
                continue
            if pattern.regex.match(relative):
                verdict = not pattern.negated
        return verdict


def is_ignored(path: Path, is_dir: bool, stack: list[GitIgnore]) -> bool:
    """Whether the innermost matching rule of ``stack`` (outermost first) ignores ``path``."""
    for rules in reversed(stack):
        verdict = rules.match(path, is_dir)
        if verdict is not None:
            return verdict
    return False
