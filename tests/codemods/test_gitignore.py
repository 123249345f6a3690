"""The .gitignore matcher: git's rules that matter for choosing files to scan."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest

from bgmigrate.codemods.gitignore import MAX_GITIGNORE_BYTES, GitIgnore, is_ignored

ROOT = Path("/repo")
RULES = GitIgnore(
    ROOT,
    [
        "# generated code",
        "",
        "*.gen.py",
        "/build_out",
        "cache/",
        "docs/**/examples",
        "!keep.gen.py",
        "tmp?.py",
    ],
)


@pytest.mark.parametrize(
    ("path", "is_dir", "ignored"),
    [
        ("a/b/x.gen.py", False, True),
        ("keep.gen.py", False, False),
        ("build_out", True, True),
        ("src/build_out", True, False),
        ("cache", True, True),
        ("cache", False, False),
        ("docs/a/b/examples", True, True),
        ("docs/examples", True, True),
        ("tmp1.py", False, True),
        ("tmp12.py", False, False),
        ("app/main.py", False, False),
    ],
)
def test_patterns(path: str, is_dir: bool, ignored: bool) -> None:
    assert is_ignored(ROOT / path, is_dir, [RULES]) is ignored


def test_inner_gitignore_wins_over_outer() -> None:
    inner = GitIgnore(ROOT / "pkg", ["!*.gen.py"])
    assert is_ignored(ROOT / "pkg" / "x.gen.py", False, [RULES, inner]) is False
    assert is_ignored(ROOT / "other" / "x.gen.py", False, [RULES, inner]) is True


def test_paths_outside_the_directory_are_not_matched() -> None:
    assert RULES.match(Path("/elsewhere/x.gen.py"), False) is None


def _load_within(directory: Path, seconds: float) -> GitIgnore | None:
    """``GitIgnore.load`` in a thread; fails the test when it has not returned in time."""
    result: list[GitIgnore | None] = []
    thread = threading.Thread(target=lambda: result.append(GitIgnore.load(directory)), daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "loading the .gitignore did not return"
    return result[0]


def test_a_fifo_gitignore_is_not_read(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / ".gitignore")
    assert _load_within(tmp_path, 10) is None


def test_a_gitignore_linked_to_dev_zero_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").symlink_to("/dev/zero")
    assert _load_within(tmp_path, 10) is None


def test_an_oversized_gitignore_is_not_read(tmp_path: Path) -> None:
    (tmp_path / ".gitignore").write_text("*.py\n" * (MAX_GITIGNORE_BYTES // 5 + 1))
    assert GitIgnore.load(tmp_path) is None
    (tmp_path / ".gitignore").write_text("*.py\n")
    assert GitIgnore.load(tmp_path) is not None


@pytest.mark.timeout(30)  # a hang guard, not a speed goal: the old matcher never finished
def test_a_backtracking_pattern_is_matched_in_linear_time() -> None:
    # The former regex translation took 16 s for a 34-character name, doubling per character.
    rules = GitIgnore(ROOT, ["*a*a*a*a*a*a*a*a*a*a*b"])
    for length in (40, 1_000, 100_000):
        assert rules.match(ROOT / ("a" * length + ".py"), False) is None
    assert rules.match(ROOT / "d" / ("a" * 12 + "b"), False) is True


@pytest.mark.parametrize(
    ("pattern", "path", "ignored"),
    [
        ("a/**", "a/b/c.py", True),
        ("a/**", "a", None),
        ("**/x.py", "x.py", True),
        ("a/**/b", "a/b", True),
        ("a/**/b", "a/x/y/b", True),
        ("a**b.py", "a/b.py", None),
        ("[!x]y.py", "zy.py", True),
        ("[!x]y.py", "xy.py", None),
    ],
)
def test_segment_semantics(pattern: str, path: str, ignored: bool | None) -> None:
    assert GitIgnore(ROOT, [pattern]).match(ROOT / path, False) is ignored
