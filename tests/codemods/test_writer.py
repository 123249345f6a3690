"""Unified diffs that git applies, and atomic replacement of files."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from bgmigrate.codemods.writer import unified_diff, write_atomic


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (b"a\nb\n", b"a\nc\n"),
        (b"a\nb", b"a\nc"),  # no newline at the end of the file, on both sides
        (b"a\r\nb\r\n", b"a\r\nb\r\nc\r\n"),
        (b"# -*- coding: latin-1 -*-\nx = '\xe9'\n", b"# -*- coding: latin-1 -*-\nx = '\xe8'\n"),
    ],
)
def test_git_applies_the_diff(before: bytes, after: bytes, tmp_path: Path) -> None:
    (tmp_path / "f.py").write_bytes(before)
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    patch = tmp_path / "p.diff"
    patch.write_bytes(unified_diff("f.py", before, after))
    subprocess.run(["git", "apply", str(patch)], cwd=tmp_path, check=True)
    assert (tmp_path / "f.py").read_bytes() == after


def test_no_diff_without_change() -> None:
    assert unified_diff("f.py", b"x\n", b"x\n") == b""


def test_atomic_write_keeps_mode_and_replaces_the_inode(tmp_path: Path) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(b"old\n")
    os.chmod(path, 0o755)
    inode = path.stat().st_ino
    write_atomic(path, b"new\n")
    assert path.read_bytes() == b"new\n"
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert path.stat().st_ino != inode
    assert [p.name for p in tmp_path.iterdir()] == ["f.py"]


def test_failed_write_leaves_the_original_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(b"old\n")
    with pytest.raises(TypeError):
        write_atomic(path, "not bytes")  # type: ignore[arg-type]
    assert path.read_bytes() == b"old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["f.py"]


def test_a_symlink_stays_a_symlink(tmp_path: Path) -> None:
    target = tmp_path / "real.py"
    target.write_bytes(b"old\n")
    link = tmp_path / "link.py"
    link.symlink_to(target)
    write_atomic(link, b"new\n")
    assert link.is_symlink()
    assert target.read_bytes() == b"new\n"


@pytest.mark.parametrize(
    "name", ["line\nbreak.py", "\x1b[31mred.py", 'quote"and\\back.py', os.fsdecode(b"b\xffyte.py")]
)
def test_git_applies_the_diff_of_a_file_with_a_hostile_name(name: str, tmp_path: Path) -> None:
    (tmp_path / name).write_bytes(b"a\nb\n")
    subprocess.run(["git", "init", "-q"], cwd=tmp_path, check=True)
    patch = unified_diff(name, b"a\nb\n", b"a\nc\n")
    assert patch.count(b"\n") == 7  # the name added no line
    (tmp_path / "p.diff").write_bytes(patch)
    subprocess.run(["git", "apply", "p.diff"], cwd=tmp_path, check=True)
    assert (tmp_path / name).read_bytes() == b"a\nc\n"


def test_a_read_only_file_is_refused_even_for_root(tmp_path: Path) -> None:
    path = tmp_path / "f.py"
    path.write_bytes(b"old\n")
    path.chmod(0o444)
    inode = path.stat().st_ino
    with pytest.raises(PermissionError, match="read-only file"):
        write_atomic(path, b"new\n")
    assert path.read_bytes() == b"old\n"
    assert path.stat().st_ino == inode
    assert [p.name for p in tmp_path.iterdir()] == ["f.py"]
