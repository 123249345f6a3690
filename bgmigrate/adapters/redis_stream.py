"""Redis commands sent as soon as they are given and answered at the end, on a connection of
one's own: the outbox relay's way of handing a batch over in parts (ARQ's script calls,
Celery's ``LPUSH``-es), so that Redis works on one part while the next is built."""

from __future__ import annotations

from typing import Any

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


class Stream:
    """Commands sent as soon as they are given, on a connection of their own, and their
    replies read by :meth:`execute`. Not a transaction: a failure leaves the commands before it
    done (the outbox relay then hands its whole batch over again, which workers run once)."""

    def __init__(self) -> None:
        self._connection: ConnectionInterface | None = None
        self._sent = 0

    def bind(self, pool: redis.ConnectionPool) -> None:
        """Connect (once) as ``pool``'s connections do."""
        if self._connection is None:
            self._connection = own_connection(pool)

    def send(self, *command: Any) -> None:
        """Send ``command`` now; its reply is read by :meth:`execute`."""
        assert self._connection is not None, "bind() comes first"
        self._connection.send_command(*command)  # type: ignore[no-untyped-call]
        self._sent += 1

    def lpush(self, key: str, *values: str) -> None:
        """Send an ``LPUSH`` now (the one command of a pipeline that ``RedisBatch`` uses)."""
        self.send("LPUSH", key, *values)

    def execute(self) -> None:
        """Read the replies of the commands sent (raising the first error)."""
        assert self._connection is not None, "bind() comes first"
        while self._sent:
            self._connection.read_response()  # type: ignore[no-untyped-call]
            self._sent -= 1

    def reset(self) -> None:
        """Disconnect if replies are left unread (a command or a reply failed), so that the
        next commands' replies are not taken for theirs; the next command reconnects."""
        if self._sent and self._connection is not None:
            self._connection.disconnect()  # type: ignore[no-untyped-call]
        self._sent = 0

    def close(self) -> None:
        """Disconnect."""
        if self._connection is not None:
            self._connection.disconnect()  # type: ignore[no-untyped-call]
            self._connection = None
