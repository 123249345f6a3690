"""Per-call options in task messages: what travels, what a worker rebuilds, what is refused."""

from __future__ import annotations

import sys

import pytest

import bgmigrate
from bgmigrate.adapters.call_options import (
    FIELD,
    changed_options,
    with_call_options,
)
from bgmigrate.errors import ConfigError, UnsupportedOption
from bgmigrate.retry import RetryPolicy
from bgmigrate.testing import conformance_tasks as tasks

QUEUES = ["celery", "arq"]


def test_a_registered_task_used_as_it_is_carries_nothing() -> None:
    assert changed_options(tasks.patient) == {}
    assert changed_options(tasks.patient.using(queue="elsewhere", delay=1.0)) == {}


def test_the_worker_rebuilds_the_calls_timeout_and_retry_policy() -> None:
    policy = RetryPolicy(max_attempts=7, backoff=0.5, retry_on=(ConnectionError, TimeoutError))
    called = tasks.flaky.using(timeout=2.0, retry=policy)
    kwargs = {"failures": 1, FIELD: changed_options(called)}
    rebuilt, call_kwargs = with_call_options(tasks.flaky, kwargs)
    assert rebuilt.options == called.options
    assert call_kwargs == {"failures": 1}


def test_a_call_that_drops_the_retry_policy_runs_once() -> None:
    rebuilt, _ = with_call_options(
        tasks.flaky, {FIELD: changed_options(tasks.flaky.using(retry=None))}
    )
    assert rebuilt.options.retry is None


def test_a_message_never_makes_the_worker_import_an_exception_module() -> None:
    retry = {"max_attempts": 2, "backoff": 0, "max_delay": 0, "jitter": 0}
    retry["retry_on"] = ["bgmigrate_never_imported:Boom"]  # type: ignore[assignment]
    with pytest.raises(ConfigError, match="not a loaded exception class"):
        with_call_options(tasks.flaky, {FIELD: {"retry": retry}})
    assert "bgmigrate_never_imported" not in sys.modules


@pytest.mark.parametrize("backend", QUEUES)
@pytest.mark.parametrize("timeout", [20.0, None], ids=["longer", "lifted"])
def test_a_queue_refuses_a_call_that_lengthens_or_lifts_the_registered_timeout(
    backend: str, timeout: float | None
) -> None:
    bgmigrate.configure(backend=backend, result_url="redis://127.0.0.1:6379/0")
    with pytest.raises(UnsupportedOption, match=r"may shorten the registered timeout \(10 s\)"):
        tasks.patient.using(timeout=timeout)
    assert tasks.patient.using(timeout=0.5).options.timeout == 0.5


@pytest.mark.parametrize("backend", QUEUES)
def test_a_queue_refuses_retry_on_a_class_a_worker_cannot_find_by_name(backend: str) -> None:
    class LocalError(Exception):
        pass

    bgmigrate.configure(backend=backend, result_url="redis://127.0.0.1:6379/0")
    with pytest.raises(ConfigError, match="define the exception class at module level"):
        tasks.flaky.using(retry=RetryPolicy(retry_on=(LocalError,)))


def test_in_process_honours_any_timeout_a_call_gives() -> None:
    bgmigrate.configure(backend="inprocess")
    assert tasks.patient.using(timeout=None).options.timeout is None
