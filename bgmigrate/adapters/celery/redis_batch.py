"""Publish a batch of Celery messages over kombu's Redis transport in one round trip.

kombu's Redis transport costs two round trips per message: it reads the exchange's bindings
(``SMEMBERS``) and then ``LPUSH``-es the message. For a request's batch, bgmigrate queues the
pushes in one ``MULTI``/``EXEC`` transaction and reads each exchange's bindings once, so the
batch costs one round trip and is all or nothing, like an ARQ batch.

This overrides two methods of one ``kombu.transport.redis.Channel`` (``_put`` and
``get_table``) while the batch is published, and restores them after. kombu is pinned to
5.6.x; the tests check the commands Redis receives and that real workers run the tasks.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport.redis import Channel as RedisChannel
from kombu.utils.json import dumps


@contextmanager
def one_round_trip(channel: Any) -> Iterator[None]:
    """Buffer what is published on ``channel`` inside the block; send it all at the end.

    Other transports (AMQP) publish as usual.
    """
    if not isinstance(channel, RedisChannel):
        yield
        return
    pipe = channel._create_client().pipeline(transaction=True)
    bindings = functools.cache(channel.get_table)

    def put(queue: str, message: dict[str, Any], **_: Any) -> None:
        # As RedisChannel._put does it, into the transaction instead of straight to Redis.
        priority = channel._get_message_priority(message, reverse=False)
        pipe.lpush(channel._q_for_pri(queue, priority), dumps(message))

    channel._put, channel.get_table = put, bindings
    try:
        yield
        pipe.execute()
    finally:
        del channel._put, channel.get_table
        pipe.reset()
