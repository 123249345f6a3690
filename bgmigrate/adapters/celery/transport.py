"""kombu's Redis transport, made to survive messages that are not Celery messages.

kombu takes a message off the Redis list before decoding it. When it is not JSON (garbage
bytes, a truncated write) or not a kombu envelope, kombu's error stops the whole worker
("Unrecoverable error"); a supervisor restarting it only postpones the next such message. This
transport logs the message's start and the reason and moves them to the dead-letter list
(:mod:`bgmigrate.adapters.dead_letter`) — the message has already left the queue, and there
is nothing to run — and the worker goes on with the next one. A JSON envelope nested too deep
for Python's parser (``RecursionError``) and one whose headers are not a mapping
(``AttributeError`` in kombu) are among them.
"""

from __future__ import annotations

import json
from typing import Any

from kombu.transport import redis as kombu_redis

from bgmigrate.adapters.dead_letter import SHOWN, dead_letter, store


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    """A Redis channel that logs and dead-letters undecodable messages instead of failing."""

    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except (ValueError, KeyError, TypeError, AttributeError, RecursionError) as exc:
            shown = exc.doc[:SHOWN] if isinstance(exc, json.JSONDecodeError) else ""
            reason = f"not a Celery message ({type(exc).__name__}: {str(exc)[:SHOWN]})"
            store(self.client, dead_letter("celery", "?", reason, shown))
            return True


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    """kombu's Redis transport with :class:`Channel`."""

    Channel = Channel
