"""The dead-letter list: messages a worker refused as malformed, kept in Redis to be read.

A message that is not a well-formed bgmigrate job (a field of the wrong type, an unknown or
built-in task name, an envelope that does not decode) is taken off its queue once, logged,
and its start is pushed onto the Redis list :data:`DEAD_LETTER_KEY` as one JSON record (see
:class:`DeadLetter`), newest first. List it with ``redis-cli LRANGE bgmigrate:dead-letter 0 -1``
or :func:`read_dead_letters`. The list is capped at :data:`KEPT` records and each record at
:data:`SHOWN` characters of the message, so that a flood of bad messages cannot fill Redis.
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

import redis
import redis.asyncio

logger = logging.getLogger("bgmigrate")

DEAD_LETTER_KEY = "bgmigrate:dead-letter"
"""Redis list of refused messages (JSON records, newest first)."""
KEPT = 1000
"""Records kept in the list; older ones are dropped."""
SHOWN = 2000
"""Characters of a refused message kept in its record."""


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """One refused message: where it came from, why it was refused, and how it started."""

    backend: str
    """``celery`` or ``arq``."""
    queue: str
    """The queue (or job id, for arq) the message was taken from."""
    reason: str
    """Why the worker refused it."""
    message: str
    """The message's first :data:`SHOWN` characters (bytes decoded with replacement)."""
    at: str
    """When it was refused (ISO 8601, UTC)."""

    def encode(self) -> bytes:
        """This record as the JSON stored in the list."""
        return json.dumps(asdict(self)).encode()


def dead_letter(backend: str, queue: str, reason: str, message: bytes | str) -> DeadLetter:
    """The record of ``message``, refused for ``reason``; it is logged here."""
    text = message.decode(errors="replace") if isinstance(message, bytes) else message
    letter = DeadLetter(backend, queue, reason, text[:SHOWN], datetime.now(UTC).isoformat())
    logger.error(
        "refused a malformed message from %s queue %r: %s (moved to Redis list %s)",
        backend,
        queue,
        reason,
        DEAD_LETTER_KEY,
    )
    return letter


def store(client: redis.Redis, letter: DeadLetter) -> None:
    """Push ``letter`` onto the dead-letter list; a Redis error is logged, not raised (the
    message is refused either way)."""
    try:
        with client.pipeline() as pipe:
            pipe.lpush(DEAD_LETTER_KEY, letter.encode())
            pipe.ltrim(DEAD_LETTER_KEY, 0, KEPT - 1)
            pipe.execute()
    except (redis.RedisError, OSError) as exc:
        logger.error("could not keep the refused message in %s: %r", DEAD_LETTER_KEY, exc)


async def astore(client: redis.asyncio.Redis, letter: DeadLetter) -> None:
    """Async form of :func:`store`."""
    try:
        async with client.pipeline() as pipe:
            pipe.lpush(DEAD_LETTER_KEY, letter.encode())
            pipe.ltrim(DEAD_LETTER_KEY, 0, KEPT - 1)
            await pipe.execute()
    except (redis.RedisError, OSError) as exc:
        logger.error("could not keep the refused message in %s: %r", DEAD_LETTER_KEY, exc)


def read_dead_letters(client: redis.Redis, count: int = KEPT) -> list[DeadLetter]:
    """The newest ``count`` refused messages, newest first."""
    raw: list[bytes] = client.lrange(DEAD_LETTER_KEY, 0, count - 1)  # type: ignore[assignment]
    return [DeadLetter(**json.loads(item)) for item in raw]
