"""Which files a run sees, and the module names they get."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.codemods.discovery import discover, module_name
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
