"""Without the ``codemod`` extra (libcst), ``scan`` still works and ``rewrite`` says what to
install; nothing else in the CLI imports libcst."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import SLOW_APP

# Make ``import libcst`` fail as it does when the extra is not installed.
BLOCK_LIBCST = "import sys; sys.modules['libcst'] = None; from bgmigrate.cli import main; main()"


def _cli(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    (tmp_path / "app.py").write_text(SLOW_APP.lstrip())
    return subprocess.run(
        [sys.executable, "-c", BLOCK_LIBCST, *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_scan_needs_no_libcst(tmp_path: Path) -> None:
    completed = _cli(tmp_path, "scan", "--no-cache", ".")
    assert completed.returncode == 1, completed.stderr
    assert "app.py:11:5" in completed.stdout


def test_rewrite_names_the_extra_to_install(tmp_path: Path) -> None:
    completed = _cli(tmp_path, "rewrite", "--no-cache", ".")
    assert completed.returncode == 2
    assert completed.stderr == (
        "bgmigrate: error: bgmigrate rewrite needs libcst: pip install 'bgmigrate[codemod]'\n"
    )
