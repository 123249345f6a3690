"""bench/otel_overhead.py measures every setup it names (timings are never tested)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench" / "otel_overhead.py"


@pytest.mark.parametrize("setup", ["absent", "api", "sdk"])
def test_each_setup_reports_its_figures(setup: str) -> None:
    completed = subprocess.run(
        [sys.executable, str(BENCH), "--measure", setup, "--tasks", "20"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    figures = json.loads(completed.stdout)
    assert set(figures) == {"enqueue_us", "run_us", "sending_us", "running_us"}
    assert all(value > 0 for value in figures.values())
