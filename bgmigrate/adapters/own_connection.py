"""A Redis connection of one's own, made with a connection pool's settings."""

from __future__ import annotations

import redis
from redis.connection import ConnectionInterface


def own_connection(pool: redis.ConnectionPool) -> ConnectionInterface:
    """A connection made as ``pool`` makes its own, which the pool neither counts nor keeps:
    its owner disconnects it.

    ``pool.make_connection()`` would count it against the pool's ``max_connections`` for good,
    as it is never released; kombu's channel pools, which every Celery app of a process shares
    for one broker, allow 10.
    """
    connection: ConnectionInterface = pool.connection_class(**pool.connection_kwargs)
    return connection
