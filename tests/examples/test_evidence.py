"""Runtime evidence end to end: run an app in-process with statistics on, then ``scan --evidence``.

A small app (written into a temporary project) has a slow task, a flaky one and a quick one. It
serves requests on the in-process backend under a short budget; the test checks the warnings,
the statistics file and the Prometheus metrics, then scans the project with the file as evidence
and checks the measured findings and the verdicts they lead to.
"""

from __future__ import annotations

import importlib
import json
import logging
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import prometheus_client
import pytest
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.stats import StatsCollector
from tests.codemods.report_schema import load_report

BGMIGRATE = str(Path(sys.executable).parent / "bgmigrate")

APP = """
from fastapi import FastAPI

import bgmigrate
from bgmigrate import Tasks

from evidence_app.tasks import flaky_sync, quick_log, render_report

app = FastAPI(lifespan=bgmigrate.lifespan)


@app.post("/reports/{number}")
def create_report(number: int, tasks: Tasks) -> None:
    tasks.add_task(render_report, number)
    tasks.add_task(flaky_sync, number)
    tasks.add_task(quick_log, number)
"""

TASKS = """
def render_report(number: int) -> int:
    # CPU work that no static rule recognises as slow (unlike time.sleep or an HTTP call).
    return sum(i * i for i in range(2_000_000))


def flaky_sync(number: int) -> None:
    if number % 2:
        raise ConnectionError(f"upstream refused #{number}")


def quick_log(number: int) -> None:
    pass
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A temporary project holding the ``evidence_app`` package, importable by name."""
    package = tmp_path / "evidence_app"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(textwrap.dedent(APP))
    (package / "tasks.py").write_text(textwrap.dedent(TASKS))
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for name in [m for m in sys.modules if m.startswith("evidence_app")]:
        del sys.modules[name]


def serve(module: ModuleType, requests: int) -> None:
    with TestClient(module.app) as client:
        for number in range(requests):
            assert client.post(f"/reports/{number}").status_code == 200


def test_statistics_from_production_decide_the_verdicts(
    project: Path, caplog: pytest.LogCaptureFixture
) -> None:
    stats = project / "stats.json"
    bgmigrate.configure(
        stats_path=stats, inprocess_budget=0.02, stats_warn_interval=3600, prometheus=True
    )
    with caplog.at_level(logging.WARNING, logger="bgmigrate.stats"):
        serve(importlib.import_module("evidence_app.main"), requests=10)

    # Warned once per task and window, with the figures.
    warnings = [r.getMessage() for r in caplog.records if r.name == "bgmigrate.stats"]
    assert len(warnings) == 2
    assert any(
        w.startswith("evidence_app.tasks.render_report took") and "budget 0.02 s" in w
        for w in warnings
    )
    assert any(
        w.startswith("evidence_app.tasks.flaky_sync failed in 1 of 2 runs") for w in warnings
    )

    # The statistics file written at shutdown.
    figures = json.loads(stats.read_text())["tasks"]
    assert figures["evidence_app.tasks.render_report"]["over_budget"] == 10
    assert figures["evidence_app.tasks.flaky_sync"]["failures"] == {"ConnectionError": 5}
    assert figures["evidence_app.tasks.quick_log"]["runs"] == 10

    # Prometheus metrics (the prometheus extra).
    exposition = prometheus_client.generate_latest().decode()
    flaky = 'bgmigrate_task_runs_total{outcome="failure",task="evidence_app.tasks.flaky_sync"}'
    assert flaky in exposition

    # Without evidence the static rules see nothing to move; with it, the measured tasks move.
    before = scan(project)
    assert {s["task"]: s["verdict"] for s in before["call_sites"]} == {
        "evidence_app.tasks.render_report": "keep-in-process",
        "evidence_app.tasks.flaky_sync": "keep-in-process",
        "evidence_app.tasks.quick_log": "keep-in-process",
    }
    after = scan(project, "--evidence", str(stats))
    sites = {s["task"]: s for s in after["call_sites"]}
    assert [f["rule"] for f in sites["evidence_app.tasks.render_report"]["findings"]] == ["BGM201"]
    assert [f["rule"] for f in sites["evidence_app.tasks.flaky_sync"]["findings"]] == ["BGM202"]
    assert sites["evidence_app.tasks.render_report"]["verdict"] == "migrate"
    assert sites["evidence_app.tasks.flaky_sync"]["verdict"] == "migrate"
    assert sites["evidence_app.tasks.quick_log"]["verdict"] == "keep-in-process"
    assert sites["evidence_app.tasks.quick_log"]["observed"]["runs"] == 10
    assert after["unmatched_evidence"] == []


def test_evidence_for_tasks_the_scan_cannot_find_is_listed(project: Path) -> None:
    stats = project / "stats.json"
    collector = StatsCollector(budget=1, warn_interval=0)
    collector.record("legacy.jobs.nightly", duration=5, queue_delay=0, attempts=1, error=None)
    collector.write(stats)
    report = scan(project, "--evidence", str(stats))
    unmatched = report["unmatched_evidence"]
    assert [(u["task"], u["runs"], u["over_budget"]) for u in unmatched] == [
        ("legacy.jobs.nightly", 1, 1)
    ]


def scan(project: Path, *extra: str) -> dict[str, Any]:
    completed = subprocess.run(
        [BGMIGRATE, "scan", "--format", "json", "--no-cache", *extra, "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert completed.returncode in (0, 1), completed.stderr
    return load_report(completed.stdout)
