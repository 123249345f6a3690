"""Which files a run sees, and the module names they get."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bgmigrate.codemods.discovery import Excludes, discover, module_name
from bgmigrate.codemods.pyproject import CodemodConfig


def _touch(root: Path, *names: str) -> None:
    for name in names:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("")


def test_module_names() -> None:
    assert module_name(Path("app/tasks.py")) == "app.tasks"
    assert module_name(Path("app/__init__.py")) == "app"
    assert module_name(Path("main.py")) == "main"


def test_a_package_directory_keeps_its_package_name(tmp_path: Path) -> None:
    _touch(tmp_path, "app/__init__.py", "app/api/__init__.py", "app/api/routes.py")
    found = {
        s.display_path: s.module for s in discover([Path("app/api")], CodemodConfig(), tmp_path)
    }
    assert found == {"app/api/__init__.py": "app.api", "app/api/routes.py": "app.api.routes"}


def test_an_explicit_file_is_scanned_even_when_excluded(tmp_path: Path) -> None:
    _touch(tmp_path, "build/gen.py", "build/other.py")
    found = [s.display_path for s in discover([Path("build/gen.py")], CodemodConfig(), tmp_path)]
    assert found == ["build/gen.py"]
    assert list(discover([Path(".")], CodemodConfig(), tmp_path)) == []


def test_each_file_once_when_paths_overlap(tmp_path: Path) -> None:
    _touch(tmp_path, "a/x.py")
    found = list(discover([Path("a"), Path("a/x.py"), Path(".")], CodemodConfig(), tmp_path))
    assert [s.display_path for s in found] == ["a/x.py"]


def test_gitignore_can_be_turned_off(tmp_path: Path) -> None:
    _touch(tmp_path, "gen/x.py")
    (tmp_path / ".gitignore").write_text("gen/\n")
    assert list(discover([Path(".")], CodemodConfig(), tmp_path)) == []
    config = CodemodConfig(respect_gitignore=False)
    assert [s.display_path for s in discover([Path(".")], config, tmp_path)] == ["gen/x.py"]


@pytest.mark.parametrize(
    ("pattern", "relative", "excluded"),
    [
        ("build", "src/build", True),
        ("src/build", "src/build", True),
        ("*.egg-info", "x/pkg.egg-info", True),
        ("gen_*", "gen_a.py", True),
        ("gen_*", "src/gen_a.py", True),
        ("src/*/tmp", "src/a/tmp", True),
        ("[ab]x.py", "bx.py", True),
        ("[ab]x.py", "cx.py", False),
        ("gen_?.py", "gen_12.py", False),
    ],
)
def test_excludes_match_as_fnmatch_does(pattern: str, relative: str, excluded: bool) -> None:
    assert Excludes((pattern,))(relative, relative.rpartition("/")[2]) is excluded


@pytest.mark.timeout(60)  # a hang guard, not a speed goal: this took 86-224 s before
def test_twenty_thousand_excludes_are_not_tried_one_by_one(tmp_path: Path) -> None:
    # Each pattern was fnmatch-ed against every entry: 86 s for 2,000 files.
    for i in range(2_000):
        (tmp_path / f"pkg{i % 40}").mkdir(exist_ok=True)
        (tmp_path / f"pkg{i % 40}" / f"mod_{i}.py").write_text("x = 1\n")
    globs = [f"gen_{i}_*.py" for i in range(10_000)]
    patterns = (*globs, *(f"skip_{i}" for i in range(10_000)), "pkg3")
    config = CodemodConfig(extend_exclude=patterns, respect_gitignore=False)
    found = list(discover([tmp_path], config, tmp_path))
    assert len(found) == 2_000 - 50


def test_only_regular_python_files_are_found(tmp_path: Path) -> None:
    _touch(tmp_path, "real.py")
    os.mkfifo(tmp_path / "fifo.py")
    (tmp_path / "zero.py").symlink_to("/dev/zero")
    (tmp_path / "gone.py").symlink_to(tmp_path / "missing.py")
    config = CodemodConfig()
    assert [s.display_path for s in discover([tmp_path], config, tmp_path)] == ["real.py"]
    assert list(discover([tmp_path / "fifo.py"], config, tmp_path)) == []


def test_a_namespace_package_its_code_imports_by_name_keeps_that_name(tmp_path: Path) -> None:
    # api/ has no __init__.py, and its code imports `api.core...`: the modules are api.*
    _touch(tmp_path, "api/core/__init__.py", "api/routes/__init__.py")
    (tmp_path / "api/core/mail.py").write_text("def send(to): ...\n")
    (tmp_path / "api/routes/users.py").write_text("from api.core.mail import send\n")
    found = {s.display_path: s.module for s in discover([Path("api")], CodemodConfig(), tmp_path)}
    assert found["api/core/mail.py"] == "api.core.mail"
    assert found["api/routes/users.py"] == "api.routes.users"


def test_a_source_root_is_not_taken_for_a_namespace_package(tmp_path: Path) -> None:
    # src/ holds the package app/, whose code imports `app...`, never `src...`
    _touch(tmp_path, "src/app/__init__.py")
    (tmp_path / "src/app/main.py").write_text("from app import tasks\nimport src_helpers\n")
    found = {s.display_path: s.module for s in discover([Path("src")], CodemodConfig(), tmp_path)}
    assert found["src/app/main.py"] == "app.main"
