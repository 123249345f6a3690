"""Which Celery message headers the worker's consumer refuses before Celery reads them (the
refusal itself, on real brokers: ``test_malformed_messages.py``)."""

from __future__ import annotations

from typing import Any

import pytest

from bgmigrate.adapters.celery.consumer import header_problem

GOOD: dict[str, Any] = {
    "lang": "py",
    "task": "tasks.add",
    "id": "0b4c",
    "root_id": "0b4c",
    "parent_id": None,
    "group": None,
    "eta": None,
    "expires": None,
    "retries": 0,
    "timelimit": [None, None],
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"timelimit": ["a", "b"]}, "'timelimit'"),
        ({"timelimit": [1]}, "'timelimit'"),
        ({"timelimit": [float("inf"), None]}, "'timelimit'"),
        ({"timelimit": [-1, None]}, "'timelimit'"),
        ({"task": ["x"]}, "'task'"),
        ({"task": None}, "'task'"),
        ({"id": 7}, "'id'"),
        ({"eta": 12}, "'eta'"),
        ({"retries": "1"}, "'retries'"),
        ({"retries": True}, "'retries'"),
    ],
)
def test_a_header_of_the_wrong_type_is_named(change: dict[str, Any], problem: str) -> None:
    assert problem in (header_problem({**GOOD, **change}) or "")


@pytest.mark.parametrize("headers", [None, ["task"], "task"])
def test_headers_that_are_not_a_mapping_are_refused(headers: Any) -> None:
    assert "protocol 2" in (header_problem(headers) or "")


def test_well_formed_headers_pass() -> None:
    assert header_problem(GOOD) is None
    assert header_problem({**GOOD, "timelimit": [30, 25.5]}) is None
    assert header_problem({"task": "tasks.add", "id": "x"}) is None


def test_a_deeply_nested_header_is_described_in_bounded_space() -> None:
    deep: Any = []
    for _ in range(10_000):
        deep = [deep]
    problem = header_problem({**GOOD, "timelimit": deep}) or ""
    assert len(problem) < 500
