"""kombu's Redis transport, made to survive messages that are not Celery messages.

kombu takes a message off the Redis list before decoding it. When it is not JSON (garbage
bytes, a truncated write) or not a kombu envelope, kombu's error stops the whole worker
("Unrecoverable error"); a supervisor restarting it only postpones the next such message. This
transport logs the message's start and the reason, and drops it — it has already left the
queue, and there is nothing to run — and the worker goes on with the next one.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from kombu.transport import redis as kombu_redis

logger = logging.getLogger("bgmigrate.celery")

SHOWN = 200
"""Characters of an undecodable message shown in the log."""


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    """A Redis channel that logs and drops undecodable messages instead of failing."""

    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except (ValueError, KeyError, TypeError) as exc:
            shown = exc.doc[:SHOWN] if isinstance(exc, json.JSONDecodeError) else ""
            logger.error(
                "dropped a message that is not a Celery message (%s: %s): %r",
                type(exc).__name__,
                exc,
                shown,
            )
            return True


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
