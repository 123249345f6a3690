"""One run per job id: the first publication claims it, its re-deliveries still run."""

from __future__ import annotations

import uuid

import redis

from bgmigrate.adapters.celery.once import once_store_url, runs_publication
from bgmigrate.settings import load_settings


def test_the_first_publication_runs_and_so_do_its_redeliveries(redis_url: str) -> None:
    job = uuid.uuid4().hex
    with redis.Redis.from_url(redis_url) as client:
        assert runs_publication(client, job, "first", ttl=60)
        assert runs_publication(client, job, "first", ttl=60)  # re-delivered after a crash
        assert not runs_publication(client, job, "second", ttl=60)
        assert runs_publication(client, uuid.uuid4().hex, "second", ttl=60)


def test_job_ids_are_kept_in_the_redis_broker_else_the_result_store() -> None:
    redis_broker = load_settings(broker_url="redis://h:6379/0", result_url="redis://r:6379/1")
    assert once_store_url(redis_broker) == "redis://h:6379/0"
    rabbit = load_settings(broker_url="amqp://h//", result_url="redis://r:6379/1")
    assert once_store_url(rabbit) == "redis://r:6379/1"
    assert once_store_url(load_settings(broker_url="amqp://h//")) is None
