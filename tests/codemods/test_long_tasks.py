"""The timeout and retry policy ``rewrite`` proposes: rounding and what it says about them."""

from __future__ import annotations

import pytest

from bgmigrate.adapters.redelivery import held_seconds
from bgmigrate.codemods.long_tasks import (
    COMMENT,
    DEFAULT_VISIBILITY_TIMEOUT,
    FAILING_RETRY,
    LONG_RUNNING_TIMEOUT,
    MUST_NOT_LOSE_RETRY,
    TaskSettings,
    checklist,
    round_up,
)


@pytest.mark.parametrize(
    ("seconds", "rounded"),
    [(0.5, 60), (60, 60), (61, 120), (190, 300), (3000, 3600), (3601, 7200), (14000, 14400)],
)
def test_timeouts_round_up_to_round_durations(seconds: float, rounded: int) -> None:
    assert round_up(seconds) == rounded


def test_the_long_running_default_is_never_delivered_twice_by_a_default_celery_on_redis() -> None:
    held = held_seconds(LONG_RUNNING_TIMEOUT, is_async=True, retry=MUST_NOT_LOSE_RETRY)
    assert held <= DEFAULT_VISIBILITY_TIMEOUT
    assert held + 300 > DEFAULT_VISIBILITY_TIMEOUT  # and as long as it can be, to 5 minutes


def _settings(timeout: int, *, is_async: bool = False) -> TaskSettings:
    return TaskSettings(timeout, "measured", FAILING_RETRY, "it failed", is_async, measured=True)


def test_the_decorator_names_the_attempts_and_every_field_off_its_default() -> None:
    arguments = _settings(300).arguments("bgmigrate.RetryPolicy")
    assert arguments == (
        "timeout=300, retry=bgmigrate.RetryPolicy(max_attempts=3, backoff=10.0, jitter=0.5)"
    )


def test_the_checklist_names_what_outlasts_the_default_visibility_timeout() -> None:
    # 3600 s + 5 s of hard-limit grace + a retry wait of 20 s: over 3600 s.
    lines = checklist([("app.py:short", _settings(300)), ("app.py:long", _settings(3600))])
    assert lines[0] == "timeout/retry written on app.py:short, app.py:long"
    assert len(lines) == 3
    assert lines[2].startswith("  - app.py:long: timeout 3600 s outlasts")
    assert "BGMIGRATE_VISIBILITY_TIMEOUT=3625 or more" in lines[2]


def test_nothing_written_nothing_said() -> None:
    assert checklist([]) == []


def test_a_later_rewrite_recognises_every_comment_and_the_timeout_in_it() -> None:
    lines = _settings(300).comments()
    assert len(lines) == 2
    matches = [COMMENT.match(line) for line in lines]
    assert [match[1] if match else "no match" for match in matches] == ["300", None]
