"""The bundled example app, rewritten by ``bgmigrate rewrite``, still passes its own tests
on the in-process backend; ``scan`` gives it the verdicts its tasks deserve."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import cast

from tests.codemods.golden import chdir, invoke

DEMO = Path(__file__).resolve().parents[2] / "examples" / "demo.py"


def _load_copy() -> Callable[[Path], None]:
    """The demo script's own ``copy_example`` (the same files the README's demo migrates)."""
    spec = importlib.util.spec_from_file_location("demo", DEMO)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return cast(Callable[[Path], None], module.copy_example)


_copy = _load_copy()


def test_scan_of_the_example_app(tmp_path: Path) -> None:
    _copy(tmp_path)
    with chdir(tmp_path):
        code, out, _ = invoke("scan", "--format", "json", "--no-progress", "--no-cache", "docapp")
    assert code == 1
    sites = {s["endpoint"]: s for s in json.loads(out)["call_sites"]}
    assert set(sites) == {"POST /documents", "POST /chat"}
    upload = sites["POST /documents"]
    assert upload["task"] == "docapp.processing.process_document"
    assert upload["task_path"] == "docapp/processing.py"
    assert upload["verdict"] == "migrate"
    assert {f["rule"] for f in upload["findings"]} == {"BGM101", "BGM102"}
    assert sites["POST /chat"]["task_is_async"] is True


def test_rewritten_example_app_passes_its_own_tests(tmp_path: Path) -> None:
    _copy(tmp_path)
    with chdir(tmp_path):
        code, _, err = invoke("rewrite", "--no-progress", "--no-cache", "docapp")
    assert code == 0, err
    main = (tmp_path / "docapp" / "main.py").read_text()
    assert "background_tasks: Tasks" in main
    assert "@task\n" in (tmp_path / "docapp" / "processing.py").read_text()
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGMIGRATE_")}
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        env={**env, "BGMIGRATE_BACKEND": "inprocess"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "3 passed" in completed.stdout
