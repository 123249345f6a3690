"""The pre-commit hook that bgmigrate offers runs ``bgmigrate scan`` on the staged Python files."""

from __future__ import annotations

from pathlib import Path

import yaml

HOOKS = Path(__file__).resolve().parent.parent / ".pre-commit-hooks.yaml"


def test_the_scan_hook_runs_bgmigrate_scan_once_over_python_files() -> None:
    hooks = {hook["id"]: hook for hook in yaml.safe_load(HOOKS.read_text())}
    scan = hooks["bgmigrate-scan"]
    assert scan["entry"].split()[:2] == ["bgmigrate", "scan"]
    assert scan["language"] == "python"
    assert scan["types"] == ["python"]
    assert scan["require_serial"] is True
