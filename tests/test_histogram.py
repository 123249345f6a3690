"""Histogram quantiles stay within their stated error, in bounded memory."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from bgmigrate.histogram import MIN_VALUE, RELATIVE_ERROR, Histogram

durations = st.floats(min_value=0, max_value=1e5, allow_nan=False)


def exact_quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


@given(st.lists(durations, min_size=1, max_size=300), st.floats(0, 1))
def test_quantiles_are_within_the_stated_relative_error(values: list[float], q: float) -> None:
    histogram = Histogram()
    for value in values:
        histogram.add(value)
    estimate, truth = histogram.quantile(q), exact_quantile(values, q)
    assert abs(estimate - truth) <= max(truth * RELATIVE_ERROR, MIN_VALUE) * (1 + 1e-9)


@given(st.lists(durations, max_size=100), st.lists(durations, max_size=100))
def test_merging_equals_recording_everything_in_one(left: list[float], right: list[float]) -> None:
    one, two, both = Histogram(), Histogram(), Histogram()
    for value in left:
        one.add(value)
        both.add(value)
    for value in right:
        two.add(value)
        both.add(value)
    one.merge(two)
    assert (one.buckets, one.count, one.maximum) == (both.buckets, both.count, both.maximum)


def test_memory_is_bounded_by_the_range_of_values_not_their_number() -> None:
    histogram = Histogram()
    for n in range(100_000):
        histogram.add(0.5 + (n % 1000) / 1000)  # 100k samples between 0.5 s and 1.5 s
    assert len(histogram.buckets) < 40


def test_json_round_trip_keeps_everything() -> None:
    histogram = Histogram()
    for value in (0.001, 0.2, 3.0, 3.1):
        histogram.add(value)
    again = Histogram.from_json(histogram.to_json())
    assert again == histogram
