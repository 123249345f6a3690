"""The pre-commit hook that bgmigrate offers runs ``bgmigrate scan`` on the staged Python files."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bgmigrate.cli import app

HOOKS_FILE = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"
SCAN = {hook["id"]: hook for hook in yaml.safe_load(HOOKS_FILE.read_text())}["bgmigrate-scan"]
HEAVY = """\
import requests
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def fetch(url: str) -> None:
    requests.get(url)

@app.post("/fetch")
def post(url: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(fetch, url)
"""
PLAIN = "def add(a: int, b: int) -> int:\n    return a + b\n"


def test_the_scan_hook_runs_bgmigrate_scan_once_over_python_files() -> None:
    assert shlex.split(SCAN["entry"])[:2] == ["bgmigrate", "scan"]
    assert SCAN["language"] == "python"
    assert SCAN["types"] == ["python"]
    assert SCAN["require_serial"] is True


@pytest.mark.parametrize(("source", "exit_code"), [(HEAVY, 1), (PLAIN, 0)])
def test_the_hook_command_fails_on_a_staged_file_with_findings(source: str, exit_code: int) -> None:
    Path("staged.py").write_text(source)  # the test runs in a temporary cwd
    argv = [*shlex.split(SCAN["entry"])[1:], "--no-cache", "staged.py"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == exit_code, result.output
