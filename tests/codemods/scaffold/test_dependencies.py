"""``bgmigrate[backend]`` goes where the project declares its dependencies, once."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgmigrate.codemods.scaffold.dependencies import add_dependency
from bgmigrate.codemods.scaffold.model import Files


def _after(root: Path, backend: str = "arq") -> str:
    outcome = add_dependency(Files(), root, backend)
    for edit in outcome.edits:
        edit.write()
    return "\n".join(outcome.done + outcome.left)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("bgmigrate>=0.1\n", "bgmigrate[arq]>=0.1\n"),
        ("bgmigrate[codemod]==0.1.0\n", "bgmigrate[codemod,arq]==0.1.0\n"),
        ("bgmigrate[arq]\n", "bgmigrate[arq]\n"),
    ],
)
def test_an_existing_requirement_gets_the_extra(tmp_path: Path, line: str, expected: str) -> None:
    (tmp_path / "requirements.txt").write_text(f"fastapi\n{line}")
    _after(tmp_path)
    assert (tmp_path / "requirements.txt").read_text() == f"fastapi\n{expected}"


def test_a_file_without_a_final_newline_keeps_its_lines(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("fastapi")
    _after(tmp_path, "celery")
    assert (tmp_path / "requirements.txt").read_text().splitlines()[0] == "fastapi"
    assert (
        (tmp_path / "requirements.txt")
        .read_text()
        .splitlines()[1]
        .startswith("bgmigrate[celery]>=")
    )


def test_a_project_without_declared_dependencies_is_told_what_to_add(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.ruff]\nline-length = 80\n")
    text = _after(tmp_path)
    assert "add bgmigrate[arq]>=" in text
    assert (tmp_path / "pyproject.toml").read_text() == "[tool.ruff]\nline-length = 80\n"


def test_lock_files_are_left_alone_and_named(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\ndependencies = []\n')
    (tmp_path / "poetry.lock").write_text("# lock\n")
    assert "re-lock: poetry.lock" in _after(tmp_path)
    assert (tmp_path / "poetry.lock").read_text() == "# lock\n"
    assert "re-lock" not in _after(tmp_path)  # nothing changed the second time
