"""The broker goes down while requests arrive, then comes back; the app is never restarted.

The broker is a private, password-protected ``redis-server`` with an append-only file (so that
what was enqueued before it stopped is still there after); the tasks' own log lives in the
test Redis, which stays up.
"""

from __future__ import annotations

import logging
import os
import time
import uuid
from collections.abc import Callable

import pytest
import redis
from fastapi.testclient import TestClient
from httpx2 import Response

import bgmigrate
from bgmigrate.adapters.arq.backend import ArqBackend
from bgmigrate.adapters.celery.app_factory import DEFAULT_QUEUE
from bgmigrate.settings import Settings
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance_app import make_app
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServerFactory

PASSWORD = "outage-pw-7c1f"
TASKS_PER_REQUEST = 3
"""``POST /orders/{log}`` of the conformance app adds three tasks."""


def queued(client: redis.Redis, backend: str) -> int:
    """Messages waiting in the default queue (nobody consumes it in this test)."""
    if backend == "celery":
        return int(client.llen(DEFAULT_QUEUE))  # type: ignore[arg-type]
    return int(client.zcard("arq:queue"))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("backend", "results"),
    [("celery", True), ("celery", False), ("arq", False)],
    ids=["celery", "celery-without-results", "arq"],
)
def test_requests_get_503_while_the_broker_is_down_and_succeed_once_it_is_back(
    backend: str,
    results: bool,
    redis_url: str,
    redis_server_factory: RedisServerFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    record_property: Callable[[str, object], None],
) -> None:
    broker = redis_server_factory(aof=True, password=PASSWORD)
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    # Celery with a result store first marks tasks queued there; without, it only publishes.
    result_url = broker.url if results else None
    bgmigrate.configure(backend=backend, broker_url=broker.url, result_url=result_url)
    log = f"outage:{uuid.uuid4().hex}"
    caplog.set_level(logging.DEBUG)
    with TestClient(make_app()) as client:
        before = client.post(f"/orders/{log}")
        broker.stop()
        down_at = time.monotonic()
        during = [client.post(f"/orders/{log}") for _ in range(5)]
        refusal = (time.monotonic() - down_at) / len(during)
        broker.start()
        back_at = time.monotonic()
        after: list[Response] = []

        def accepted() -> bool:
            after.append(client.post(f"/orders/{log}"))
            return after[-1].status_code != 503

        wait_until(accepted, timeout=30, what="a request accepted after the broker came back")
        recovery = time.monotonic() - back_at
        again = [client.post(f"/orders/{log}") for _ in range(3)]
    record_property("recovery_seconds", round(recovery, 3))
    print(f"{backend} (results: {results}): 503 in {refusal:.3f} s, 2xx again {recovery:.3f} s")
    assert before.status_code == 200
    assert [r.status_code for r in during] == [503] * 5
    assert all(r.headers["retry-after"] for r in during)
    assert {r.status_code for r in after[:-1]} <= {503}
    assert [r.status_code for r in [after[-1], *again]] == [200] * 4
    # Nothing was half-enqueued by a refused request: the queue holds exactly the accepted ones.
    with redis.Redis.from_url(broker.url) as observer:
        assert queued(observer, backend) == 5 * TASKS_PER_REQUEST
    everything = caplog.text + "".join(r.text for r in [before, *during, *after, *again])
    assert "not enqueued" in caplog.text
    assert PASSWORD not in everything


SECOND_BROKER_ENV = "BGMIGRATE_TEST_SECOND_BROKER_URL"


class SecondBrokerArq(ArqBackend):
    """The ARQ backend on a broker of its own (``BGMIGRATE_TEST_SECOND_BROKER_URL``), as a
    custom backend can be: the request's second backend, whose broker fails alone."""

    def __init__(self, settings: Settings) -> None:
        url = os.environ[SECOND_BROKER_ENV]
        super().__init__(settings.model_copy(update={"broker_url": url}))


@pytest.mark.parametrize("header", [True, False], ids=["idempotency-key", "no-header"])
def test_a_retried_request_whose_second_broker_was_down_runs_its_tasks_once_with_a_key(
    header: bool,
    redis_url: str,
    redis_server_factory: RedisServerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    first, second = redis_server_factory(), redis_server_factory()
    second.stop()  # down from the start
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    monkeypatch.setenv(SECOND_BROKER_ENV, second.url)
    # record goes to Celery on the first broker, arecord to ARQ on the second (in that order).
    route = f"{SecondBrokerArq.__module__}:{SecondBrokerArq.__qualname__}"
    bgmigrate.configure(backend="celery", broker_url=first.url, routes={tasks.arecord.name: route})
    log = f"two-brokers:{uuid.uuid4().hex}"
    headers = {"Idempotency-Key": f"order-{uuid.uuid4().hex}"} if header else {}
    with TestClient(make_app()) as client:
        refused = client.post(f"/orders/{log}", headers=headers)
        second.start()
        retried = client.post(f"/orders/{log}", headers=headers)
    assert (refused.status_code, retried.status_code) == (503, 200)
    with redis.Redis.from_url(first.url) as celery_broker:
        sent_to_celery = queued(celery_broker, "celery")
    with redis.Redis.from_url(second.url) as arq_broker:
        assert queued(arq_broker, "arq") == 1  # the one the refused request could not send
    # The refused request's Celery tasks (first, third) were accepted before ARQ failed: with
    # the header the retry's are the same jobs; without it they are sent again.
    assert sent_to_celery == (2 if header else 4)
