"""A Celery batch on a Redis broker: one MULTI/EXEC round trip, all or nothing, its messages
copied from the first one Celery builds wherever Celery would do nothing more per message; the
outbox relay's batches streamed, an LPUSH at a time."""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any, cast

import pytest
import redis
from celery import signals

import bgmigrate
from bgmigrate.adapters.celery.backend import CeleryBackend
from bgmigrate.adapters.celery.redis_batch import STREAMED, one_round_trip
from bgmigrate.backend import Job
from bgmigrate.errors import EnqueueError, SerializationError
from bgmigrate.runtime import Runtime
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.redis_servers import RedisServer, RedisServerFactory
from tests.adapters.relayed import relayed_jobs, wait_for_refusals


@pytest.fixture
def server(redis_server_factory: RedisServerFactory) -> RedisServer:
    return redis_server_factory()


def _jobs(runtime: Runtime, count: int) -> list[Job]:
    return [runtime.prepare(tasks.add, (i, i), {})[1] for i in range(count)]


def _calls(client: redis.Redis, command: str) -> int:
    commands = cast(dict[str, Any], client.info("commandstats"))
    stats = commands.get(f"cmdstat_{command}", {"calls": 0})
    return int(stats["calls"])


def test_ten_messages_are_pushed_in_one_transaction(
    server: RedisServer,
) -> None:
    runtime = bgmigrate.configure(backend="celery", broker_url=server.url, default_queue="q")
    backend = runtime.backend("celery")
    backend.enqueue(_jobs(runtime, 1))  # declares the queue once, as any first publish does
    with redis.Redis.from_url(server.url) as client:
        client.config_resetstat()
        backend.enqueue(_jobs(runtime, 10))
        assert _calls(client, "exec") == 1
        assert _calls(client, "lpush") == 1  # ten messages to one list: one LPUSH
        assert _calls(client, "smembers") <= 1  # exchange bindings: read once, if at all
        assert client.llen("q") == 11


def test_a_batch_that_fails_to_publish_enqueues_nothing(server: RedisServer) -> None:
    runtime = bgmigrate.configure(backend="celery", broker_url=server.url, default_queue="q")
    backend = runtime.backend("celery")
    backend.enqueue(_jobs(runtime, 1))
    jobs = _jobs(runtime, 3)
    broken = Job(task=tasks.add, args=(), kwargs={}, payload={"args": [object()], "kwargs": {}})
    with pytest.raises(SerializationError, match="could not be encoded"):
        backend.enqueue([*jobs, broken])
    with redis.Redis.from_url(server.url) as client:
        assert client.llen("q") == 1


def _celery(url: str) -> CeleryBackend:
    runtime = bgmigrate.configure(backend="celery", broker_url=url, default_queue="q")
    return cast(CeleryBackend, runtime.backend("celery"))


def _messages(client: redis.Redis, queue: str) -> list[dict[str, Any]]:
    """The queue's messages in the order a worker takes them, their bodies decoded."""
    messages = []
    for raw in reversed(cast(list[bytes], client.lrange(queue, 0, -1))):
        message = json.loads(raw)
        message["body"] = json.loads(base64.b64decode(message["body"]))
        messages.append(message)
    return messages


def _without_delivery_tag(message: dict[str, Any]) -> dict[str, Any]:
    tag = message["properties"].pop("delivery_tag")
    assert uuid.UUID(tag).version == 4
    return message


def test_the_relay_streams_a_batch_an_lpush_at_a_time_in_its_order(server: RedisServer) -> None:
    backend = _celery(server.url)
    first, *jobs = relayed_jobs(2 * STREAMED + 2)
    backend.relay([first])  # declares the queue, as any first publish does
    with redis.Redis.from_url(server.url) as client:
        client.config_resetstat()
        backend.relay(jobs)
        assert (_calls(client, "lpush"), _calls(client, "exec")) == (3, 0)
        messages = _messages(client, "q")[1:]
    assert [m["headers"]["id"] for m in messages] == [job.id for job in jobs]
    assert [m["body"][0] for m in messages] == [[n, 0] for n in range(1, len(jobs) + 1)]


def test_a_relayed_batch_that_redis_refuses_is_an_enqueue_error_and_the_next_is_sent(
    server: RedisServer,
) -> None:
    backend = _celery(server.url)
    jobs = relayed_jobs(2 * STREAMED + 1)
    backend.relay(jobs[:1])  # declares the queue, as any first publish does
    with redis.Redis.from_url(server.url) as client:
        client.config_set("maxmemory", 1)  # with no eviction policy, every write is refused
        client.config_resetstat()
        with pytest.raises(EnqueueError, match="did not accept 501 task"):
            backend.relay(jobs)
        wait_for_refusals(client, 3)
        client.config_set("maxmemory", 0)
        backend.relay(jobs)  # on a new connection: the refused pushes' replies are not read
        messages = _messages(client, "q")
    assert [m["headers"]["id"] for m in messages] == [job.id for job in jobs[:1] + jobs]


def test_a_relayed_batch_that_fails_to_build_leaves_no_reply_for_the_next(
    server: RedisServer,
) -> None:
    backend = _celery(server.url)
    first, second, third = (STREAMED + 1, STREAMED + 3, STREAMED + 5)
    jobs = relayed_jobs(third)
    broken = Job(task=tasks.add, args=(), kwargs={}, payload={"args": [object()], "kwargs": {}})
    with pytest.raises(SerializationError):
        backend.relay([*jobs[:first], broken])  # its first LPUSH was sent, then it failed
    backend.relay(jobs[first:second])  # declares the queue again (kombu forgot it)
    with redis.Redis.from_url(server.url) as client:
        client.config_set("maxmemory", 1)  # with no eviction policy, every write is refused
        with pytest.raises(EnqueueError, match="OutOfMemoryError"):
            backend.relay(jobs[second:third])  # its own reply is read, not an earlier one


def test_relays_of_many_apps_in_one_process_take_no_connection_from_kombus_pool(
    server: RedisServer,
) -> None:
    # kombu's channel pools, which every app of a process shares for one broker, allow 10.
    for _ in range(12):
        backend = _celery(server.url)
        backend.relay(relayed_jobs(2))
        asyncio.run(backend.close())
    with redis.Redis.from_url(server.url) as client:
        assert client.llen("q") == 24


def test_a_copied_message_is_the_message_celery_builds_for_that_job(server: RedisServer) -> None:
    app = _celery(server.url).app
    # As PostgreSQL prints JSON: not ASCII-escaped, spaced.
    call = ('["\u00e9\\"x", 2]', '{"k": null}')
    sent: dict[str, Any] = {
        "args": ['\u00e9"x', 2],
        "kwargs": {"k": None},
        "argsrepr": call[0],
        "kwargsrepr": call[1],
    }
    # A header the jobs share is kept as it is, "%" and all.
    shared = {"note": "100%s %d"}
    with app.producer_or_acquire() as producer:
        with one_round_trip(producer.channel) as batch:
            assert batch is not None
            app.send_task(
                tasks.add.name, task_id="a", producer=producer, headers={"t": "1", **shared}, **sent
            )
            template = batch.template({"t": "1"})
            assert template is not None
            batch.push_like(template, "b", call, call, {"t": "2"})
        app.send_task(
            tasks.add.name, task_id="b", producer=producer, headers={"t": "2", **shared}, **sent
        )
    with redis.Redis.from_url(server.url) as client:
        first, copied, built = _messages(client, "q")
    assert copied["properties"]["delivery_tag"] != first["properties"]["delivery_tag"]
    assert _without_delivery_tag(copied) == _without_delivery_tag(built)
    assert (copied["headers"]["id"], copied["headers"]["t"]) == ("b", "2")


@pytest.fixture
def published() -> Iterator[list[tuple[str, str]]]:
    """The (signal, job id) of every before/after_task_publish signal sent meanwhile."""
    seen: list[tuple[str, str]] = []

    def before(headers: dict[str, Any], **_: Any) -> None:
        seen.append(("before", headers["id"]))

    def after(headers: dict[str, Any], **_: Any) -> None:
        seen.append(("after", headers["id"]))

    signals.before_task_publish.connect(before, weak=False)
    signals.after_task_publish.connect(after, weak=False)
    yield seen
    signals.before_task_publish.disconnect(before)
    signals.after_task_publish.disconnect(after)


def test_with_publish_signal_receivers_celery_builds_and_signals_every_message(
    server: RedisServer, published: list[tuple[str, str]]
) -> None:
    runtime = bgmigrate.configure(backend="celery", broker_url=server.url, default_queue="q")
    jobs = _jobs(runtime, 3)
    runtime.backend("celery").enqueue(jobs)
    assert published == [(signal, job.id) for job in jobs for signal in ("before", "after")]


def _by_first_argument(
    name: str, args: list[Any], kwargs: dict[str, Any], options: dict[str, Any], **_: Any
) -> dict[str, str]:
    return {"queue": f"q{args[0] % 2}"}


def test_a_task_router_sees_every_message(server: RedisServer) -> None:
    runtime = bgmigrate.configure(backend="celery", broker_url=server.url)
    backend = cast(CeleryBackend, runtime.backend("celery"))
    backend.app.conf.task_routes = (_by_first_argument,)
    backend.enqueue(_jobs(runtime, 5))
    with redis.Redis.from_url(server.url) as client:
        assert [m["body"][0][0] for m in _messages(client, "q0")] == [0, 2, 4]
        assert [m["body"][0][0] for m in _messages(client, "q1")] == [1, 3]
