"""RetryPolicy: exponential backoff, bounded, with jitter only ever shortening a wait."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bgmigrate import RetryPolicy
from bgmigrate.errors import ConfigError


def test_backoff_doubles_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=6, backoff=1.0, max_delay=5.0)
    assert [policy.delay_for(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


@given(
    attempt=st.integers(1, 30),
    backoff=st.floats(0, 100),
    max_delay=st.floats(0, 1000),
    jitter=st.floats(0, 1),
)
def test_jittered_delay_stays_within_bounds(
    attempt: int, backoff: float, max_delay: float, jitter: float
) -> None:
    policy = RetryPolicy(backoff=backoff, max_delay=max_delay, jitter=jitter)
    full = min(max_delay, backoff * 2 ** (attempt - 1))
    assert full * (1 - jitter) - 1e-9 <= policy.delay_for(attempt) <= full + 1e-9


def test_only_listed_exceptions_are_retried_and_only_while_attempts_remain() -> None:
    policy = RetryPolicy(max_attempts=2, retry_on=(ConnectionError,))
    assert policy.should_retry(ConnectionError(), attempt=1)
    assert not policy.should_retry(ConnectionError(), attempt=2)
    assert not policy.should_retry(ValueError(), attempt=1)


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"backoff": -1}, {"jitter": 1.5}, {"max_delay": -2}]
)
def test_invalid_policies_fail_at_definition(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]
