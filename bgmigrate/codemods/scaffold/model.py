"""What a scaffold step returns: file edits and checklist lines."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import tomlkit
from tomlkit.exceptions import TOMLKitError

from bgmigrate.codemods.writer import unified_diff, write_atomic
from bgmigrate.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Edit:
    """One file a step writes: a new file when ``before`` is ``None``."""

    path: Path
    display: str
    """The path as the checklist and the diff show it (relative to the project)."""
    before: bytes | None
    after: bytes

    def diff(self) -> bytes:
        """The edit as a unified diff (``/dev/null`` as the old side of a new file)."""
        if self.before is None:
            body = unified_diff(self.display, b"", self.after)
            return body.replace(f"--- a/{self.display}".encode(), b"--- /dev/null", 1)
        return unified_diff(self.display, self.before, self.after)

    def write(self) -> None:
        """Write the file (atomically when it exists)."""
        if self.before is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self.path.write_bytes(self.after)
        else:
            write_atomic(self.path, self.after)


@dataclasses.dataclass
class Outcome:
    """What one or more steps did and what is left to a human."""

    edits: list[Edit] = dataclasses.field(default_factory=list)
    done: list[str] = dataclasses.field(default_factory=list)
    """Checklist lines of things done (or already in place)."""
    left: list[str] = dataclasses.field(default_factory=list)
    """Checklist lines of things left to do by hand."""

    def add(self, other: Outcome) -> None:
        """Append another step's outcome; a second edit of a file replaces the first's result
        (the later step read the earlier one's output, see :class:`Files`)."""
        for edit in other.edits:
            first = next((e for e in self.edits if e.path == edit.path), None)
            if first is None:
                self.edits.append(edit)
            else:
                self.edits[self.edits.index(first)] = dataclasses.replace(edit, before=first.before)
        self.done += other.done
        self.left += other.left


def text(path: Path, data: bytes) -> str:
    """``data`` of ``path`` as UTF-8, or a ``ConfigError`` (nothing has been written yet)."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 ({exc}); fix it or run without --backend") from exc


def parse_toml(path: Path, data: bytes) -> tomlkit.TOMLDocument:
    """``data`` of ``path`` as a TOML document that keeps its layout and comments."""
    try:
        return tomlkit.parse(text(path, data))
    except TOMLKitError as exc:
        raise ConfigError(
            f"{path}: cannot parse TOML ({exc}); fix it or run without --backend"
        ) from exc


@dataclasses.dataclass
class Files:
    """The project's files as the steps so far left them (edits not written yet)."""

    pending: dict[Path, bytes] = dataclasses.field(default_factory=dict)

    def read(self, path: Path) -> bytes | None:
        """The file's bytes after the earlier steps, ``None`` when it does not exist."""
        if path in self.pending:
            return self.pending[path]
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def apply(self, outcome: Outcome) -> Outcome:
        """Record ``outcome``'s edits for the next steps; ``outcome`` itself."""
        self.pending.update({edit.path: edit.after for edit in outcome.edits})
        return outcome
