"""``rewrite`` on a hostile tree: links and configured paths that lead outside it, read-only
files, files libcst cannot handle and file names made to forge report lines.

Every case uses the hostile input itself (real links, real files with such names); each file
ends untouched or fully rewritten, and the run reports what it did not do.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bgmigrate.cli.rewrite import NEXT_STEPS
from tests.cli.conftest import SLOW_APP, Write
from tests.codemods.golden import invoke


def rewrite(*args: str) -> tuple[int, str, str]:
    return invoke("rewrite", "--no-progress", "--no-cache", *args)


@pytest.fixture
def outside(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A file ``rewrite`` would change, in a directory that is not among the given paths."""
    path = tmp_path_factory.mktemp("outside") / "victim.py"
    path.write_text(SLOW_APP)
    return path


def test_a_link_to_a_file_outside_the_paths_is_reported_not_written(
    project: Write, outside: Path
) -> None:
    own = project("tree/own.py", SLOW_APP)
    (own.parent / "link.py").symlink_to(outside)
    code, _, err = rewrite("tree")
    assert code == 2
    assert outside.read_text() == SLOW_APP
    assert f"tree/link.py:1:1: error: not rewritten: a link to {outside}, outside the paths" in err
    assert own.read_text() != SLOW_APP


def test_a_link_inside_the_paths_is_rewritten_through(project: Write) -> None:
    target = project("tree/real/app.py", SLOW_APP)
    (target.parent.parent / "link.py").symlink_to(target)
    assert rewrite("tree")[0] == 0
    assert target.read_text() != SLOW_APP
    assert (target.parent.parent / "link.py").is_symlink()


def test_an_absolute_configured_path_is_refused(project: Write, outside: Path) -> None:
    pyproject = project("pyproject.toml", f'[tool.bgmigrate]\npaths = ["{outside.parent}"]\n')
    code, _, err = rewrite()
    assert code == 2
    assert f"{pyproject.resolve()}: [tool.bgmigrate] paths must be relative" in err
    assert outside.read_text() == SLOW_APP


def test_a_configured_path_that_links_outside_is_refused(project: Write, outside: Path) -> None:
    project("pyproject.toml", '[tool.bgmigrate]\npaths = ["src"]\n')
    Path("src").symlink_to(outside.parent)
    code, _, err = rewrite()
    assert code == 2
    assert "[tool.bgmigrate] paths: 'src' resolves to" in err
    assert outside.read_text() == SLOW_APP
    # Given on the command line, the same directory is the user's explicit choice.
    assert rewrite("src")[0] == 0
    assert outside.read_text() != SLOW_APP


def test_a_read_only_file_is_reported_not_replaced(project: Write) -> None:
    # Tests run as root, which may write a 0444 file: the refusal must not rest on EACCES.
    locked = project("locked.py", SLOW_APP)
    locked.chmod(0o444)
    before = (locked.read_text(), locked.stat().st_ino)
    other = project("other.py", SLOW_APP)
    code, _, err = rewrite(".")
    assert code == 2
    assert "locked.py:1:1: error: cannot write: [Errno 13] read-only file (mode 0444)" in err
    assert (locked.read_text(), locked.stat().st_ino) == before
    assert other.read_text() != SLOW_APP


@pytest.mark.usefixtures("project")
def test_files_rewrite_cannot_handle_are_reported_and_the_run_goes_on() -> None:
    first = Path("a_first.py")
    first.write_text(SLOW_APP)
    deep = Path("b_deep.py")
    deep.write_text(SLOW_APP + "\nx = " + "not " * 2000 + "y\n")
    bad = Path("c_bad_utf8.py")
    bad.write_bytes(b"# -*- coding: utf-8 -*-\n" + SLOW_APP.encode() + b"s = '\xff'\n")
    odd = Path(os.fsdecode(b"d_\xff.py"))
    odd.write_text(SLOW_APP)
    last = Path("e_last.py")
    last.write_text(SLOW_APP)
    code, _, err = rewrite(".")
    assert code == 2
    assert "b_deep.py:1:1: error: cannot rewrite: RecursionError" in err
    assert "c_bad_utf8.py:1:1: error: cannot parse" in err
    assert "rewrote d_\\xff.py" in err
    assert "3 files rewritten" in err
    assert deep.read_text() == SLOW_APP + "\nx = " + "not " * 2000 + "y\n"
    assert all(p.read_text() != SLOW_APP for p in (first, odd, last))


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("x\nforged.py:1:1: error: fake.py", "x\\nforged.py:1:1: error: fake.py"),
        ("\x1b[2J\x1b[31mred.py", "\\x1b[2J\\x1b[31mred.py"),
    ],
)
def test_a_file_name_cannot_forge_a_line_of_the_output(
    name: str, shown: str, project: Write
) -> None:
    Path(name).write_text(SLOW_APP)
    code, _, err = rewrite("--check", ".")
    assert code == 1
    assert err.splitlines() == [
        f"would rewrite {shown}",
        "1 file would be rewritten",
        f"@task would be added to {shown}:wait",
        *NEXT_STEPS.splitlines(),
        f"timeout/retry written on {shown}:wait",
        "  (the '# bgmigrate:' comments above each @task say where the numbers came from)",
    ]
