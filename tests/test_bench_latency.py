"""bench/latency.py's pieces import and its command line parses (timings are never tested)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, BENCH / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


LATENCY = _load("latency")


def test_the_benchmarked_app_declares_its_endpoints_and_tasks() -> None:
    app = _load("latency_app")
    paths = {getattr(route, "path", None) for route in app.app.routes}
    assert {"/light", "/heavy/none", "/heavy/background-tasks", "/heavy/bgmigrate"} <= paths
    assert app.blocking_io.name == "latency_app.blocking_io"


def test_defaults_run_every_scenario_with_the_baseline_first() -> None:
    args = LATENCY.parse_args([])
    assert args.scenarios[0] == "baseline"
    assert args.scenarios == [scenario.name for scenario in LATENCY.SCENARIOS]
    assert [scenario.worker for scenario in LATENCY.SCENARIOS] == [
        None,
        None,
        None,
        None,
        "arq",
        "celery",
        None,
    ]


def test_options_are_parsed() -> None:
    args = LATENCY.parse_args(
        ["--duration", "2", "--heavy-rate", "1", "--scenarios", "baseline", "--no-plot"]
    )
    assert (args.duration, args.heavy_rate, args.scenarios, args.no_plot) == (
        2.0,
        1.0,
        ["baseline"],
        True,
    )


@pytest.mark.parametrize("argv", [["--duration", "0"], ["--rounds", "0"], ["--scenarios", "nope"]])
def test_bad_options_are_usage_errors(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        LATENCY.parse_args(argv)
    assert exit_info.value.code == 2


def test_rounds_of_a_scenario_are_pooled() -> None:
    scenario = LATENCY.SCENARIOS[2]
    pooled = LATENCY.Measured(scenario, latencies=[0.001], heavy_sent=2)
    pooled.add(LATENCY.Measured(scenario, latencies=[0.003], light_errors=1, heavy_sent=3))
    assert (pooled.latencies, pooled.light_errors, pooled.heavy_sent) == ([0.001, 0.003], 1, 5)


def test_the_table_reports_percentiles_against_the_baseline() -> None:
    baseline, heavy = LATENCY.SCENARIOS[0], LATENCY.SCENARIOS[2]
    results = [
        LATENCY.Measured(baseline, latencies=[0.001] * 100),
        LATENCY.Measured(heavy, latencies=[0.002] * 100, heavy_sent=5),
    ]
    table = LATENCY.table(results)
    assert "| baseline | 100 (0 failed) | 1.0 | 1.0 | x1.00 | — |" in table
    assert "| BackgroundTasks | 100 (0 failed) | 2.0 | 2.0 | x2.00 | 5 (0 failed) |" in table
