"""Task statistics: counted per name, warned about at most once per window, merged exactly."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from bgmigrate.stats import StatsCollector, load_stats


def test_runs_failures_retries_and_budget_are_counted_per_task() -> None:
    collector = StatsCollector(budget=1.0, warn_interval=0)
    collector.record("a", duration=0.1, queue_delay=0.0, attempts=1, error=None)
    collector.record("a", duration=2.0, queue_delay=0.5, attempts=3, error=ValueError())
    collector.record("b", duration=0.2, queue_delay=0.0, attempts=1, error=KeyError())
    stats = collector.snapshot()
    assert (stats["a"].runs, stats["a"].retries, stats["a"].over_budget) == (2, 2, 1)
    assert stats["a"].failures == {"ValueError": 1}
    assert stats["b"].failures == {"KeyError": 1}
    assert stats["a"].duration.maximum == 2.0
    assert stats["a"].queue_delay.maximum == 0.5


def test_a_slow_task_is_warned_about_once_per_window(caplog: pytest.LogCaptureFixture) -> None:
    collector = StatsCollector(budget=30, warn_interval=3600)
    with caplog.at_level(logging.WARNING, logger="bgmigrate.stats"):
        for _ in range(3):
            collector.record(
                "app.tasks.process", duration=47, queue_delay=0, attempts=1, error=None
            )
    messages = [record.getMessage() for record in caplog.records]
    assert messages == [
        "app.tasks.process took 47 s (budget 30 s) in 1 of 1 runs: move it to a queue "
        "(`bgmigrate scan` explains how)"
    ]


def test_a_failing_task_is_warned_about_with_its_failure_count(
    caplog: pytest.LogCaptureFixture,
) -> None:
    collector = StatsCollector(budget=30, warn_interval=0)
    with caplog.at_level(logging.WARNING, logger="bgmigrate.stats"):
        collector.record("t", duration=0.1, queue_delay=0, attempts=1, error=None)
        collector.record("t", duration=0.1, queue_delay=0, attempts=1, error=TimeoutError())
    assert caplog.records[-1].getMessage().startswith("t failed in 1 of 2 runs (TimeoutError)")


def test_files_are_written_atomically_and_merge_exactly(tmp_path: Path) -> None:
    first, second = (
        StatsCollector(budget=1, warn_interval=0),
        StatsCollector(budget=1, warn_interval=0),
    )
    first.record("t", duration=0.5, queue_delay=0, attempts=1, error=None)
    second.record("t", duration=1.5, queue_delay=0, attempts=2, error=OSError())
    first.write(tmp_path / "web-1.json")
    second.write(tmp_path / "web-2.json")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["web-1.json", "web-2.json"]
    merged = load_stats([tmp_path / "web-1.json", tmp_path / "web-2.json"])
    assert (merged["t"].runs, merged["t"].retries, merged["t"].failures) == (2, 1, {"OSError": 1})
    assert merged["t"].duration.maximum == 1.5


def test_a_file_that_is_not_a_stats_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.json"
    path.write_text(json.dumps({"version": 99}))
    with pytest.raises(ValueError, match="not a bgmigrate stats file"):
        load_stats([path])
