"""The pre-commit hook that bgmigrate offers runs ``bgmigrate scan`` on the staged Python files."""

from __future__ import annotations

import shlex
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from bgmigrate.cli import app

HOOKS_FILE = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"
HOOKS = {hook["id"]: hook for hook in yaml.safe_load(HOOKS_FILE.read_text())}
SCAN = HOOKS["bgmigrate-scan"]
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


def test_both_hooks_run_bgmigrate_scan_when_python_files_change() -> None:
    for hook in HOOKS.values():
        assert shlex.split(hook["entry"])[:2] == ["bgmigrate", "scan"]
        assert (hook["language"], hook["types"]) == ("python", ["python"])


def test_the_default_hook_scans_the_project_and_the_other_the_staged_files_in_one_run() -> None:
    assert SCAN["pass_filenames"] is False
    files = HOOKS["bgmigrate-scan-files"]
    assert files.get("pass_filenames", True) is True
    assert files["require_serial"] is True


@pytest.mark.parametrize(("source", "exit_code"), [(HEAVY, 1), (PLAIN, 0)])
def test_the_hook_command_fails_on_a_staged_file_with_findings(source: str, exit_code: int) -> None:
    Path("staged.py").write_text(source)  # the test runs in a temporary cwd
    argv = [*shlex.split(SCAN["entry"])[1:], "--no-cache", "staged.py"]
    result = CliRunner().invoke(app, argv)
    assert result.exit_code == exit_code, result.output
