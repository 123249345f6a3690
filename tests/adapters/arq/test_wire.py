"""arq's storage format spoken directly: one round trip per batch, order, uniqueness, JSON."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

import pytest
import redis
import redis.asyncio
from arq.constants import expires_extra_ms
from arq.jobs import Job, JobDef, JobStatus

from bgmigrate.adapters.arq.wire import (
    ENQUEUE_SCRIPT,
    ArqJob,
    dumps,
    job_problem,
    load_job,
    loads,
    script_arguments,
    status_from,
)
from bgmigrate.backend import TaskStatus
from bgmigrate.codec import EncodedCall
from bgmigrate.errors import SerializationError
from bgmigrate.testing.redis_servers import RedisServer, RedisServerFactory


@pytest.fixture
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    """A private Redis, so that its command statistics are ours alone."""
    return redis_server_factory()


def _jobs(count: int, *, queue: str = "q", job_id: str | None = None) -> list[ArqJob]:
    return [
        ArqJob(job_id=job_id or f"job{i}", queue=queue, function="f", args=[i], kwargs={})
        for i in range(count)
    ]


def _run(client: redis.Redis, jobs: list[ArqJob]) -> list[int]:
    keys, argv = script_arguments(jobs)
    return list(client.eval(ENQUEUE_SCRIPT, len(keys), *keys, *argv))  # type: ignore[arg-type]


def _stats(client: redis.Redis, section: str) -> dict[str, Any]:
    return dict(cast(dict[str, Any], client.info(section)))


def _queued(client: redis.Redis, queue: str) -> list[str]:
    members = cast(list[bytes], client.zrange(queue, 0, -1))
    return [member.decode() for member in members]


def test_a_batch_of_ten_jobs_is_one_command_from_one_connection(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    client.config_resetstat()
    _run(client, _jobs(10))
    commands = _stats(client, "commandstats")
    client.close()
    assert commands["cmdstat_eval"]["calls"] == 1
    assert commands["cmdstat_psetex"]["calls"] == 10
    assert commands["cmdstat_zadd"]["calls"] == 1  # one per queue


def test_a_large_batch_over_two_queues_queues_every_job_in_order(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    client.config_resetstat()
    jobs = [
        ArqJob(job_id=f"j{i:04}", queue=f"q{i % 2}", function="f", args=[], kwargs={})
        for i in range(1201)
    ]
    assert _run(client, jobs) == [1] * 1201
    commands = _stats(client, "commandstats")
    assert commands["cmdstat_zadd"]["calls"] == 4  # 601 and 600 jobs: two ZADDs of 500 at most
    assert _queued(client, "q0") == [job.job_id for job in jobs[::2]]
    assert _queued(client, "q1") == [job.job_id for job in jobs[1::2]]
    client.close()


def test_each_job_gets_its_own_queue_and_expiry_in_a_batch_that_mixes_them(
    server: RedisServer,
) -> None:
    client = redis.Redis.from_url(server.url)
    spec = [("a", "q0", 0), ("b", "q0", 0), ("c", "q0", 60_000), ("d", "q1", 0), ("e", "q0", 0)]
    jobs = [
        ArqJob(job_id=i, queue=q, function="f", args=[], kwargs={}, defer_ms=defer)
        for i, q, defer in spec
    ]
    assert _run(client, jobs) == [1] * 5
    assert _queued(client, "q0") == ["a", "b", "e", "c"]  # c starts a minute later
    assert _queued(client, "q1") == ["d"]
    for job_id, _, defer in spec:
        expiry = cast(int, client.pttl(f"arq:job:{job_id}"))
        assert defer + expires_extra_ms - 5_000 < expiry <= defer + expires_extra_ms
    client.close()


def test_jobs_of_a_batch_keep_the_order_they_were_added_in(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    ids = [f"id-{letter}" for letter in "zyxwvutsrq"]  # reverse alphabetical on purpose
    jobs = [ArqJob(job_id=i, queue="q", function="f", args=[], kwargs={}) for i in ids]
    _run(client, jobs)
    assert _queued(client, "q") == ids
    client.close()


def test_a_job_id_already_queued_or_with_a_result_is_not_enqueued_again(
    server: RedisServer,
) -> None:
    client = redis.Redis.from_url(server.url)
    assert _run(client, _jobs(2, job_id="same")) == [1, 0]
    client.set("arq:result:done", b"{}")
    assert _run(client, _jobs(1, job_id="done")) == [0]
    assert client.zcard("q") == 1
    client.close()


def test_jobs_are_stored_as_json_in_arqs_fields(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    job = ArqJob(job_id="j", queue="q", function="app.send", args=[1, "a"], kwargs={"b": None})
    _run(client, [job])
    stored = json.loads(cast(bytes, client.get("arq:job:j")))
    assert {key: stored[key] for key in "fakt"} == {
        "f": "app.send",
        "a": [1, "a"],
        "k": {"b": None},
        "t": None,
    }
    client.close()


async def _arq_reads(url: str, job_id: str, queue: str) -> tuple[JobStatus, JobDef | None]:
    client = redis.asyncio.Redis.from_url(url)
    try:
        job = Job(job_id, client, _queue_name=queue, _deserializer=loads)
        return await job.status(), await job.info()
    finally:
        await client.aclose()


@pytest.mark.parametrize(("defer_ms", "expected"), [(0, "queued"), (60_000, "deferred")])
def test_arq_itself_reads_a_job_the_script_wrote(
    server: RedisServer, defer_ms: int, expected: str
) -> None:
    client = redis.Redis.from_url(server.url)
    job = ArqJob(
        job_id="j", queue="q", function="app.send", args=[1], kwargs={"b": 2}, defer_ms=defer_ms
    )
    _run(client, [job])
    client.close()
    status, info = asyncio.run(_arq_reads(server.url, "j", "q"))
    assert status is JobStatus(expected)
    assert info is not None
    assert (info.function, list(info.args), info.kwargs) == ("app.send", [1], {"b": 2})
    assert not info.job_try  # written as arq's enqueue_job writes it: no try yet


def test_arq_itself_reads_a_job_whose_arguments_came_as_json_text(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    encoded = EncodedCall('[1, "é"]', '{"b": {"c": null}}')  # as PostgreSQL prints jsonb
    _run(
        client,
        [ArqJob(job_id="j", queue="q", function="app.send", args=(), kwargs={}, encoded=encoded)],
    )
    client.close()
    status, info = asyncio.run(_arq_reads(server.url, "j", "q"))
    assert status is JobStatus.queued
    assert info is not None
    assert (info.function, list(info.args), info.kwargs) == (
        "app.send",
        [1, "é"],
        {"b": {"c": None}},
    )
    assert not info.job_try


def test_a_job_arq_cannot_serialize_is_a_bgmigrate_serialization_error() -> None:
    job = ArqJob(job_id="j", queue="q", function="app.send", args=[object()], kwargs={})
    with pytest.raises(SerializationError, match=r"'app\.send' cannot be encoded") as raised:
        script_arguments([job])
    assert type(raised.value.__cause__).__module__ == "arq.jobs"


def test_a_deferred_job_is_scored_at_its_start_time(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    job = ArqJob(job_id="later", queue="q", function="f", args=[], kwargs={}, defer_ms=60_000)
    _run(client, [job])
    stored = json.loads(cast(bytes, client.get("arq:job:later")))
    score = cast(float, client.zscore("q", "later"))
    assert score - stored["et"] == pytest.approx(60_000, abs=1)
    client.close()


def test_exceptions_are_stored_by_type_and_message_never_pickled() -> None:
    data = loads(dumps({"r": ValueError("bad input"), "s": False}))
    assert data == {"r": {"type": "builtins.ValueError", "message": "bad input"}, "s": False}
    with pytest.raises(TypeError, match="not JSON serializable"):
        dumps({"r": object()})


@pytest.mark.parametrize(
    ("result", "in_progress", "queued", "status"),
    [
        (dumps({"s": True}), False, False, TaskStatus.SUCCESSFUL),
        (dumps({"s": False}), False, False, TaskStatus.FAILED),
        (None, True, True, TaskStatus.RUNNING),
        (None, False, True, TaskStatus.READY),
        (None, False, False, TaskStatus.UNKNOWN),
    ],
)
def test_status_from_arqs_keys(
    result: bytes | None, in_progress: bool, queued: bool, status: TaskStatus
) -> None:
    assert status_from(result, in_progress, queued) is status


def test_jobs_sent_one_by_one_keep_their_order_too(server: RedisServer) -> None:
    client = redis.Redis.from_url(server.url)
    ids = [f"id-{letter}" for letter in "zyxwvutsrq"]
    for job_id in ids:
        _run(client, [ArqJob(job_id=job_id, queue="q", function="f", args=[], kwargs={})])
    assert _queued(client, "q") == ids
    client.close()


GOOD_JOB: dict[str, Any] = {
    "t": None,
    "f": "tasks.add",
    "a": [1, 2],
    "k": {},
    "et": 1_700_000_000_000,
}


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        ({"t": "x"}, "field 't'"),
        ({"t": True}, "field 't'"),
        ({"f": ["x"]}, "field 'f'"),
        ({"a": {"x": 1}}, "field 'a'"),
        ({"k": []}, "field 'k'"),
        ({"et": "x"}, "field 'et'"),
        ({"et": 1e300}, "field 'et'"),
        ({"et": 10**20}, "field 'et'"),
        ({"et": -1}, "field 'et'"),
    ],
)
def test_a_job_field_of_the_wrong_type_is_named(change: dict[str, Any], problem: str) -> None:
    assert problem in (job_problem({**GOOD_JOB, **change}) or "")
    with pytest.raises(ValueError, match=problem):
        load_job(dumps({**GOOD_JOB, **change}))


def test_a_well_formed_job_has_no_problem() -> None:
    assert job_problem(GOOD_JOB) is None
    assert job_problem({**GOOD_JOB, "t": 3}) is None
    assert load_job(dumps(GOOD_JOB)) == GOOD_JOB


def test_a_job_that_is_not_an_object_is_named() -> None:
    assert "not list" in (job_problem(["f", "a"]) or "")
