"""``scan`` gives the bundled example app the verdicts its tasks deserve.

(That the rewritten app passes its own tests on every backend is
tests/examples/test_docapp_migration.py.)"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import cast

from tests.codemods.golden import chdir, invoke
from tests.codemods.report_schema import load_report

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
    sites = {s["endpoint"]: s for s in load_report(out)["call_sites"]}
    assert set(sites) == {"POST /documents", "POST /chat"}
    upload = sites["POST /documents"]
    assert upload["task"] == "docapp.processing.process_document"
    assert upload["task_path"] == "docapp/processing.py"
    assert upload["verdict"] == "migrate"
    assert {f["rule"] for f in upload["findings"]} == {"BGM101", "BGM102"}
    assert sites["POST /chat"]["task_is_async"] is True
