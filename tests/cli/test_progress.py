"""The progress bar: drawn on stderr when it is a terminal, never mixed into stdout."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from tests.cli.conftest import SLOW_APP
from tests.codemods.report_schema import load_report

BGMIGRATE = Path(sys.executable).parent / "bgmigrate"


def _run_with_terminal_stderr(tmp_path: Path, *args: str) -> tuple[bytes, bytes]:
    (tmp_path / "app.py").write_text(SLOW_APP)
    main, secondary = pty.openpty()
    try:
        completed = subprocess.run(
            [str(BGMIGRATE), "scan", ".", "--format", "json", "--no-cache", *args],
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=secondary,
            env={**os.environ, "COLUMNS": "80", "TERM": "xterm"},
            timeout=60,
            check=False,
        )
        os.close(secondary)
        secondary = -1
        terminal = b""
        while True:
            try:
                chunk = os.read(main, 4096)
            except OSError:  # the terminal's other end is closed: everything was read
                break
            if not chunk:
                break
            terminal += chunk
    finally:
        os.close(main)
        if secondary != -1:
            os.close(secondary)
    return completed.stdout, terminal


def test_progress_on_a_terminal_and_clean_json_on_stdout(tmp_path: Path) -> None:
    stdout, terminal = _run_with_terminal_stderr(tmp_path)
    assert load_report(stdout)["call_sites"]
    assert b"scanning" in terminal


def test_no_progress_flag(tmp_path: Path) -> None:
    _, terminal = _run_with_terminal_stderr(tmp_path, "--no-progress")
    assert b"scanning" not in terminal
