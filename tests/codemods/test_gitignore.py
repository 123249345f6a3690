"""The .gitignore matcher: git's rules that matter for choosing files to scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgmigrate.codemods.gitignore import GitIgnore, is_ignored

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
