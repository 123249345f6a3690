"""A job as an outbox row and back: the call and the options that differ from the task's."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

import bgmigrate
from bgmigrate import ConfigError, UnknownTaskError
from bgmigrate.backend import Job
from bgmigrate.outbox.table import ddl, job_row, row_job
from bgmigrate.retry import RetryPolicy
from bgmigrate.testing.outbox_app import record


def round_trip(job: Job) -> Job:
    row = job_row("arq", job)
    call = (json.dumps(row["payload"]["args"]), json.dumps(row["payload"]["kwargs"]))
    return row_job(row["job_id"], row["task"], call, row["options"], publish_id="p1")


def test_a_plain_call_keeps_its_id_payload_and_registered_options() -> None:
    job = Job(task=record, args=(), kwargs={}, payload={"args": ["log", 1], "kwargs": {}})
    row = job_row("arq", job)
    assert row["options"] == {}
    back = round_trip(job)
    assert (back.id, back.task.name) == (job.id, record.name)
    assert back.decoded_payload() == job.payload
    assert back.task is record
    assert back.publish_id == "p1"


def test_options_set_per_call_survive_and_a_delay_becomes_a_due_time() -> None:
    bgmigrate.configure(backend="celery")  # where queue, priority and key are all supported
    retry = RetryPolicy(max_attempts=3)
    called = record.using(queue="slow", priority=7, key="k1", delay=60, timeout=5, retry=retry)
    before = datetime.now(UTC)
    back = round_trip(Job(task=called, args=(), kwargs={}, payload={"args": [], "kwargs": {}}))
    options = back.task.options
    assert (options.queue, options.priority, options.key) == ("slow", 7, "k1")
    assert (options.timeout, options.retry, options.delay) == (5, retry, None)
    assert options.run_after is not None
    assert (
        before + timedelta(seconds=60)
        <= options.run_after
        <= datetime.now(UTC) + timedelta(seconds=60)
    )


def test_a_row_of_a_task_not_registered_here_is_refused() -> None:
    with pytest.raises(UnknownTaskError, match=r"app\.gone"):
        row_job("j1", "app.gone", ("[]", "{}"), {}, publish_id="p1")


@pytest.mark.parametrize(
    "call", [(None, "{}"), ("[]", None), ('"a"', "{}"), ("[]", "[]"), ("{}", "{}")]
)
def test_a_row_whose_payload_is_not_args_and_kwargs_is_refused(
    call: tuple[str | None, str | None],
) -> None:
    with pytest.raises(ValueError, match="not an args array and a kwargs object"):
        row_job("j1", record.name, call, {}, publish_id="p1")


def test_the_ddl_names_the_table_and_refuses_what_is_not_an_identifier() -> None:
    assert ddl("app.jobs_outbox").startswith("CREATE TABLE IF NOT EXISTS app.jobs_outbox (")
    with pytest.raises(ConfigError, match="not a lower-case SQL identifier"):
        ddl('x"; DROP TABLE users; --')
