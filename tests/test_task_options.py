"""Per-task options: the checks at definition time and the due time every backend uses."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from bgmigrate.task_options import TaskOptions

NOW = datetime(2030, 1, 1, 12, tzinfo=UTC)


def test_a_task_without_delay_or_run_after_is_due_now() -> None:
    assert TaskOptions().seconds_until_due(NOW) == 0.0


def test_a_delay_is_due_that_many_seconds_from_now() -> None:
    assert TaskOptions(delay=2.5).seconds_until_due(NOW) == 2.5


def test_run_after_is_due_when_that_time_comes() -> None:
    options = TaskOptions(run_after=NOW + timedelta(seconds=90))
    assert options.seconds_until_due(NOW) == pytest.approx(90.0)


def test_run_after_in_the_past_is_due_now() -> None:
    assert TaskOptions(run_after=NOW - timedelta(hours=1)).seconds_until_due(NOW) == 0.0


def test_without_now_the_current_time_is_used() -> None:
    options = TaskOptions(run_after=datetime.now(UTC) + timedelta(hours=1))
    assert 3590 < options.seconds_until_due() <= 3600
