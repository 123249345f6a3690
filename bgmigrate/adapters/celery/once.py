"""One run per job id for messages the outbox relay may publish more than once.

Celery runs every message it receives. The relay publishes a job again when it died between
publishing and deleting its rows; each publication carries its own ``publish_id`` under
:data:`ONCE` in the call options. The first publication a worker sees claims the job id in
Redis (``SET NX``, kept ``RESULT_TTL`` seconds); a re-delivery of that same publication (its
worker died, late acknowledgement) runs again, as at-least-once requires, and any other
publication of the id is dropped.
"""

from __future__ import annotations

import redis

from bgmigrate.settings import Settings
from bgmigrate.urls import is_redis_url

ONCE = "once"
"""Key, in a message's call options, of the publication's id."""
ONCE_PREFIX = "bgmigrate:once:"
"""Redis key prefix of claimed job ids (value: the publication that runs)."""


def once_store_url(settings: Settings) -> str | None:
    """The Redis that keeps claimed job ids: the broker's when it is Redis, else the result
    store's; ``None`` when there is none (duplicates cannot be told apart then)."""
    return next(
        (url for url in (settings.broker_url, settings.result_url) if is_redis_url(url)), None
    )


def runs_publication(client: redis.Redis, job_id: str, publish_id: str, ttl: int) -> bool:
    """Whether this publication of ``job_id`` is the one to run (one round trip)."""
    with client.pipeline(transaction=False) as pipe:
        pipe.set(ONCE_PREFIX + job_id, publish_id, nx=True, ex=ttl)
        pipe.get(ONCE_PREFIX + job_id)
        _, holder = pipe.execute()
    return holder is None or holder.decode() == publish_id
