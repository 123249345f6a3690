"""The in-process backend's job records: keys, outcomes, the finished cap, waiting."""

from __future__ import annotations

import threading

import pytest

from bgmigrate import task
from bgmigrate.adapters import inprocess_records
from bgmigrate.adapters.inprocess_records import JobRecords
from bgmigrate.backend import Job, TaskStatus
from bgmigrate.errors import UnknownJobError


@task
def noop(n: int) -> int:
    return n


def _job(key: str | None = None) -> Job:
    return Job(task=noop.using(key=key) if key else noop, args=(1,), kwargs={})


def test_a_seen_key_gets_the_earlier_jobs_id_and_is_not_run_again() -> None:
    records = JobRecords(key_ttl=60)
    first, second = _job("k"), _job("k")
    ids, accepted = records.accept([first, second])
    assert ids == [first.id, first.id]
    assert accepted == [first]


def test_an_expired_key_is_accepted_again() -> None:
    records = JobRecords(key_ttl=0)
    records.accept([_job("k")])
    again = _job("k")
    assert records.accept([again]) == ([again.id], [again])


def test_a_finished_record_keeps_its_outcome_and_forgets_the_arguments() -> None:
    records = JobRecords(key_ttl=60)
    job = _job()
    records.accept([job])
    assert not records.idle.is_set()
    assert records.finish(job.id, TaskStatus.FAILED, error=ValueError("boom"))
    assert not records.finish(job.id, TaskStatus.SUCCESSFUL)  # already finished
    record = records.known(job.id)
    assert (record.status, record.job, records.idle.is_set()) == (TaskStatus.FAILED, None, True)
    with pytest.raises(ValueError, match="boom"):
        record.outcome()


def test_only_the_newest_finished_records_are_kept(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inprocess_records, "MAX_FINISHED_RECORDS", 2)
    records = JobRecords(key_ttl=60)
    jobs = [_job() for _ in range(3)]
    records.accept(jobs)
    for job in jobs:
        records.finish(job.id, TaskStatus.SUCCESSFUL, result=1)
    assert [records.get(job.id) is None for job in jobs] == [True, False, False]
    with pytest.raises(UnknownJobError):
        records.known(jobs[0].id)


def test_wait_returns_when_another_thread_finishes_the_job_or_times_out() -> None:
    records = JobRecords(key_ttl=60)
    job = _job()
    records.accept([job])
    record = records.known(job.id)
    assert not records.wait(record, timeout=0.01)
    finisher = threading.Thread(target=records.finish, args=(job.id, TaskStatus.SUCCESSFUL))
    finisher.start()
    assert records.wait(record, timeout=10)
    finisher.join()
    assert records.unfinished() == []
