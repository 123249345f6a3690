"""``rewrite`` under faults: files it may not read or write, and an interrupted run.

In every case each file ends either untouched or fully rewritten, never half-written, and the
run reports what it could not do instead of stopping at the first problem.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import SLOW_APP

BGMIGRATE = str(Path(sys.executable).parent / "bgmigrate")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A directory an unprivileged user can enter (pytest's tmp_path is private to root)."""
    path = Path(tempfile.mkdtemp(prefix="bgmigrate-faults-", dir="/tmp"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


def as_unprivileged(argv: list[str]) -> list[str]:
    """Run ``argv`` as an ordinary user: root ignores file permissions."""
    if os.geteuid() != 0:
        return argv
    assert shutil.which("setpriv"), "setpriv (util-linux) is needed to drop root in this test"
    return [*NOBODY, *argv]


def test_unreadable_and_unwritable_files_are_reported_and_the_rest_rewritten(
    shared_dir: Path,
) -> None:
    readable = shared_dir / "readable"
    readable.mkdir()
    (readable / "app.py").write_text(SLOW_APP)
    (shared_dir / "secret.py").write_text(SLOW_APP)
    (shared_dir / "secret.py").chmod(0o000)
    locked = shared_dir / "locked"
    locked.mkdir()
    (locked / "app.py").write_text(SLOW_APP)
    locked.chmod(0o555)  # the file can be read, but no temporary file can be made beside it
    (locked / "app.py").chmod(0o644)
    readable.chmod(0o777)
    (readable / "app.py").chmod(0o666)

    completed = subprocess.run(
        as_unprivileged([BGMIGRATE, "rewrite", "--no-cache", "--no-progress", "."]),
        cwd=shared_dir,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr
    assert "secret.py:1:1: error: cannot read: Permission denied" in completed.stderr
    assert "locked/app.py:1:1: error: cannot write:" in completed.stderr
    assert "rewrote readable/app.py" in completed.stderr
    assert "Tasks" in (readable / "app.py").read_text()
    assert (locked / "app.py").read_text() == SLOW_APP
    assert sorted(p.name for p in locked.iterdir()) == ["app.py"]


def test_an_interrupted_rewrite_leaves_every_file_whole(tmp_path: Path) -> None:
    files = [tmp_path / f"app_{n:03}.py" for n in range(60)]
    for path in files:
        path.write_text(SLOW_APP)
    expected = tmp_path / "expected"
    expected.mkdir()
    (expected / "app.py").write_text(SLOW_APP)
    subprocess.run([BGMIGRATE, "rewrite", "--no-cache", "."], cwd=expected, check=True)
    rewritten = (expected / "app.py").read_text()
    shutil.rmtree(expected)

    process = subprocess.Popen(
        [BGMIGRATE, "rewrite", "--no-cache", "--no-progress", "-j", "1", "."],
        cwd=tmp_path,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stderr is not None
    first = process.stderr.readline()  # interrupt once writing has begun
    assert first.startswith("rewrote "), first
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert process.returncode != 0

    contents = [path.read_text() for path in files]
    assert all(text in (SLOW_APP, rewritten) for text in contents)  # whole, never partial
    assert SLOW_APP in contents  # it really was interrupted before the end
    assert sorted(tmp_path.iterdir()) == sorted(files)  # no temporary file left behind

    subprocess.run([BGMIGRATE, "rewrite", "--no-cache", "."], cwd=tmp_path, check=True)
    assert all(path.read_text() == rewritten for path in files)
