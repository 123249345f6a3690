"""One malformed message, pushed by hand onto a real broker, never stops a worker.

Each attack is a message that stopped a stock worker (and, re-delivered or left queued, every
restart of it): fields and headers of the wrong type, a queue score of ``-inf``, an envelope
nested 100,000 deep, Celery's built-in tasks. Each must be refused once, logged and kept in the
dead-letter list, and the 100 good jobs enqueued behind it must all run on the same worker.

Run with ``-rP`` to see the figures (messages tried, worker up, good jobs processed).
"""

from __future__ import annotations

import base64
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import redis
from arq.constants import job_key_prefix
from kombu import Connection

import bgmigrate
from bgmigrate.adapters.celery.consumer import DEAD_LETTER_QUEUE
from bgmigrate.adapters.dead_letter import DEAD_LETTER_KEY, read_dead_letters
from bgmigrate.runtime import Runtime
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import (
    WAIT,
    BackendUnderTest,
    events,
    start_backend,
    worker_environment,
)
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServerFactory
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess, bgmigrate_command

RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"
GOOD_JOBS = 100
"""Good jobs enqueued behind each attack; all of them must run."""
DEEP = 100_000
"""Nesting depth of the JSON bomb envelope (far past Python's recursion limit)."""


@dataclass(frozen=True)
class Target:
    """Where an attack is pushed: the worker's broker and queue, and the dead-letter store."""

    backend: BackendUnderTest
    broker: str
    """``redis`` or ``rabbitmq``."""
    store: redis.Redis
    """The Redis holding the dead-letter list (the broker's, else the result store's)."""

    @property
    def queue(self) -> str:
        """The worker's queue."""
        return str(self.backend.settings["default_queue"])

    @property
    def worker(self) -> WorkerProcess:
        """The worker under attack."""
        assert self.backend.worker is not None
        return self.backend.worker


@pytest.fixture(scope="module", params=["arq", "celery", "celery-rabbitmq"])
def target(request: pytest.FixtureRequest) -> Iterator[Target]:
    """One ``bgmigrate worker`` per broker, on a private Redis (and RabbitMQ, on a queue of its
    own)."""
    servers, workers = RedisServerFactory(), WorkerFactory()
    server = servers()
    backend = request.param.partition("-")[0]
    broker_url = RABBITMQ_URL if request.param.endswith("rabbitmq") else server.url
    # arq polls every 0.5 s once its slots are full: ten slots keep 100 jobs from taking 50 s.
    argv = bgmigrate_command(backend, concurrency=10 if backend == "arq" else 1)
    under_test = start_backend(
        backend, server.url, workers, broker_url=broker_url, argv=argv, name=request.param
    )
    with redis.Redis.from_url(server.url) as store:
        yield Target(under_test, "rabbitmq" if broker_url == RABBITMQ_URL else "redis", store)
    workers.close()
    servers.close()


@pytest.fixture
def configured(target: Target, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The runtime configured for the worker's queue."""
    monkeypatch.setenv(tasks.REDIS_URL_ENV, target.backend.redis_url)
    return bgmigrate.configure(**target.backend.settings)


# -- hand-made messages ----------------------------------------------------------------------


def celery_headers(**changes: Any) -> dict[str, Any]:
    """Celery (protocol 2) headers for ``add``, with ``changes``."""
    ident = uuid.uuid4().hex
    headers: dict[str, Any] = {"lang": "py", "task": tasks.add.name, "id": ident, "root_id": ident}
    headers |= {"parent_id": None, "group": None, "retries": 0, "timelimit": [None, None]}
    return headers | changes


CELERY_BODY = json.dumps([[1, 2], {}, {"callbacks": None, "errbacks": None, "chain": None}])


def push_celery(target: Target, headers: Any, body: str = CELERY_BODY, *, copies: int = 1) -> None:
    """Publish ``copies`` of a Celery message with ``headers`` as a foreign producer could."""
    if target.broker == "rabbitmq":
        with Connection(RABBITMQ_URL) as connection:
            for _ in range(copies):
                connection.Producer().publish(
                    body.encode(),
                    exchange="",
                    routing_key=target.queue,
                    headers=headers,
                    content_type="application/json",
                    content_encoding="utf-8",
                )
        return
    envelope = {
        "body": base64.b64encode(body.encode()).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "body_encoding": "base64",
            "delivery_tag": uuid.uuid4().hex,
            "delivery_info": {"exchange": "", "routing_key": target.queue},
        },
    }
    for _ in range(copies):
        push_raw(target, json.dumps(envelope))


def push_raw(target: Target, raw: str) -> None:
    """Push ``raw`` onto the Redis list of the worker's Celery queue."""
    target.store.lpush(target.queue, raw)


def push_arq(target: Target, job: bytes, score: float | None = None) -> None:
    """Store ``job`` under a new id and queue it with ``score`` (default: now)."""
    job_id = uuid.uuid4().hex
    target.store.set(job_key_prefix + job_id, job)
    target.store.zadd(target.queue, {job_id: time.time() * 1000 if score is None else score})


def arq_job(**changes: Any) -> bytes:
    """An arq job for ``add``, with ``changes``."""
    job: dict[str, Any] = {
        "t": None,
        "f": tasks.add.name,
        "a": [1, 2],
        "k": {},
        "et": int(time.time() * 1000),
    }
    return json.dumps(job | changes).encode()


def json_bomb() -> str:
    """JSON nested :data:`DEEP` levels deep."""
    return "[" * DEEP + "]" * DEEP


@dataclass(frozen=True)
class Attack:
    """A malformed message (or several), and the brokers it is tried on."""

    name: str
    targets: tuple[str, ...]
    push: Callable[[Target], None]
    messages: int = 1


CELERY = ("celery", "celery-rabbitmq")
ATTACKS = [
    Attack("arq-t-string", ("arq",), lambda t: push_arq(t, arq_job(t="x"))),
    Attack("arq-f-list", ("arq",), lambda t: push_arq(t, arq_job(f=["x"]))),
    Attack("arq-et-string", ("arq",), lambda t: push_arq(t, arq_job(et="x"))),
    Attack("arq-et-1e300", ("arq",), lambda t: push_arq(t, arq_job(et=1e300))),
    Attack("arq-score-minus-inf", ("arq",), lambda t: push_arq(t, arq_job(), float("-inf"))),
    Attack("arq-json-bomb", ("arq",), lambda t: push_arq(t, json_bomb().encode())),
    Attack(
        "celery-timelimit-strings",
        CELERY,
        lambda t: push_celery(t, celery_headers(timelimit=["a", "b"])),
    ),
    Attack(
        "celery-task-list-twice",
        CELERY,
        lambda t: push_celery(t, celery_headers(task=["x"]), copies=2),
        messages=2,
    ),
    Attack(
        "celery-builtin-accumulate",
        CELERY,
        lambda t: push_celery(t, celery_headers(task="celery.accumulate")),
    ),
    Attack(
        "celery-builtin-chord-unlock",
        CELERY,
        lambda t: push_celery(
            t, celery_headers(task="celery.chord_unlock"), json.dumps([["g"], {}, {}])
        ),
    ),
    Attack("celery-headers-list", ("celery",), lambda t: push_celery(t, ["task"])),
    Attack(
        "celery-json-bomb-envelope",
        ("celery",),
        lambda t: push_raw(t, json_bomb()),
    ),
]


def dead_letters(target: Target) -> int:
    """Records in the dead-letter list."""
    return int(target.store.llen(DEAD_LETTER_KEY))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("target", "attack"),
    [
        pytest.param(name, attack, id=f"{name}:{attack.name}")
        for attack in ATTACKS
        for name in attack.targets
    ],
    indirect=["target"],
)
def test_a_malformed_message_is_refused_once_and_the_next_hundred_jobs_run(
    target: Target,
    configured: Runtime,
    attack: Attack,
    record_property: Callable[[str, object], None],
) -> None:
    before = dead_letters(target)
    attack.push(target)
    wait_until(
        lambda: dead_letters(target) >= before + attack.messages,
        timeout=WAIT,
        what=f"{attack.messages} refusal(s) of {attack.name} in the dead-letter list",
    )
    handles = [tasks.add.enqueue(i, 1) for i in range(GOOD_JOBS)]
    processed = sum(handle.result(timeout=WAIT) == i + 1 for i, handle in enumerate(handles))
    up = target.worker.alive
    print(
        f"{attack.name} on {target.backend.name}: {attack.messages} message(s) tried, "
        f"worker {'up' if up else 'DOWN'}, {processed}/{GOOD_JOBS} good jobs processed"
    )
    record_property("good_jobs_processed", processed)
    assert up
    assert processed == GOOD_JOBS
    assert dead_letters(target) == before + attack.messages  # refused once, not re-delivered
    target.worker.wait_for_log("refused a malformed message")
    newest = read_dead_letters(target.store, attack.messages)
    assert all(letter.backend == target.backend.name.partition("-")[0] for letter in newest)


def test_without_any_redis_a_refused_celery_message_is_kept_in_a_rabbitmq_queue(
    redis_url: str, worker_factory: WorkerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"dead-letter-{uuid.uuid4().hex[:8]}"
    env = worker_environment("celery", redis_url, RABBITMQ_URL, queue)
    del env["BGMIGRATE_RESULT_URL"]  # no Redis for the worker: only the tasks' log is there
    worker = worker_factory(bgmigrate_command("celery", concurrency=1), env=env)
    headers = celery_headers(timelimit=["a", "b"])
    with Connection(RABBITMQ_URL) as connection:
        connection.Producer().publish(
            CELERY_BODY.encode(),
            exchange="",
            routing_key=queue,
            headers=headers,
            content_type="application/json",
            content_encoding="utf-8",
        )
        kept = connection.SimpleQueue(DEAD_LETTER_QUEUE)

        def ours() -> dict[str, Any] | None:
            try:
                message = kept.get(timeout=0.5)
            except kept.Empty:
                return None
            message.ack()
            letter: dict[str, Any] = json.loads(message.body)
            return letter if letter["queue"] == queue else None

        letter = wait_until(ours, timeout=WAIT, what=f"a dead letter from {queue}")
        kept.close()
    assert "'timelimit'" in letter["reason"]
    assert headers["id"] in letter["message"]
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    bgmigrate.configure(backend="celery", broker_url=RABBITMQ_URL, default_queue=queue)
    log = f"dead-letter:{uuid.uuid4().hex}"
    tasks.record.enqueue(log, "after")
    assert events(log, 1)
    assert worker.alive
