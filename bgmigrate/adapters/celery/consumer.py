"""The Celery worker's consumer: only well-formed messages for bgmigrate's tasks reach Celery.

Celery reads a message's headers without checking their types: ``timelimit: ["a", "b"]`` or
``task: ["x"]`` raise inside its consumer and stop the worker ("Unrecoverable error"), and the
message, never acknowledged, stops the next start too. Celery's built-in tasks
(``celery.accumulate``, ``celery.chord_unlock``...) run for anyone who can write to the queue.

:class:`Consumer` checks each message's headers before Celery acts on it and knows only the
tasks registered with bgmigrate. A message that fails is rejected once (not re-queued), logged
and kept in the dead-letter list (:mod:`bgmigrate.adapters.dead_letter`) in the broker's Redis,
else the result store's; with RabbitMQ and no result store, in the RabbitMQ queue
:data:`DEAD_LETTER_QUEUE`.
"""

from __future__ import annotations

import logging
import math
import reprlib
from typing import Any

import redis
from celery.worker.consumer import Consumer as CeleryConsumer
from kombu import Queue

from bgmigrate.adapters.dead_letter import SHOWN, DeadLetter, dead_letter, store
from bgmigrate.registry import registry
from bgmigrate.urls import is_redis_url

logger = logging.getLogger("bgmigrate.celery")

DEAD_LETTER_QUEUE = "bgmigrate.dead-letter"
"""RabbitMQ queue of refused messages, when no Redis is configured."""
OPTIONAL_TEXT = ("shadow", "root_id", "parent_id", "group", "eta", "expires", "origin")
"""Headers Celery reads as strings (or null)."""

_shown = reprlib.Repr()  # bounded, whatever the depth or size of what a message holds
_shown.maxlevel, _shown.maxstring, _shown.maxother = 3, 200, 200


def header_problem(headers: Any) -> str | None:
    """What makes a message's ``headers`` unfit for Celery's worker, or ``None`` if nothing."""
    if not isinstance(headers, dict):
        return f"its headers are {_shown.repr(headers)}, not Celery's (message protocol 2)"
    for name in ("task", "id"):
        if not isinstance(headers.get(name), str):
            return f"header {name!r} is {_shown.repr(headers.get(name))}, not a string"
    for name in OPTIONAL_TEXT:
        if not isinstance(headers.get(name), str | None):
            return f"header {name!r} is {_shown.repr(headers.get(name))}, not a string or null"
    retries = headers.get("retries", 0)
    if not (isinstance(retries, int) and not isinstance(retries, bool) and retries >= 0):
        return f"header 'retries' is {_shown.repr(retries)}, not a count"
    limits = headers.get("timelimit")
    if limits is not None and not _time_limits(limits):
        return f"header 'timelimit' is {_shown.repr(limits)}, not [hard, soft] seconds or null"
    return None


def _time_limits(value: Any) -> bool:
    return (
        isinstance(value, list | tuple)
        and len(value) == 2  # hard and soft
        and all(limit is None or _seconds(limit) for limit in value)
    )


def _seconds(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf


def describe(message: Any) -> str:
    """A message's headers and the start of its body, for the log and the dead-letter list."""
    body = message.body
    shown = body[:SHOWN].decode(errors="replace") if isinstance(body, bytes) else repr(body)
    return f"headers={_shown.repr(message.headers)} body={shown[:SHOWN]}"


class Consumer(CeleryConsumer):  # type: ignore[misc]
    """Celery's consumer, refusing malformed messages and tasks bgmigrate did not register."""

    _dead_letters: redis.Redis | None = None

    def update_strategies(self) -> None:
        """Forget Celery's built-in tasks: a message naming one is an unknown task."""
        super().update_strategies()
        for name in [name for name in self.strategies if name not in registry]:
            del self.strategies[name]

    def create_task_handler(self, *args: Any, **kwargs: Any) -> Any:
        """Celery's message handler, behind a check of the message's headers."""
        handle = super().create_task_handler(*args, **kwargs)

        def on_task_received(message: Any) -> Any:
            problem = header_problem(message.headers)
            if problem is None:
                try:
                    return handle(message)
                except self.connection_errors:
                    raise
                except Exception as exc:  # whatever else Celery raised must not stop the worker
                    problem = f"Celery failed on it: {exc!r}"
            self.refuse(message, problem)
            return None

        return on_task_received

    def on_unknown_task(self, body: Any, message: Any, exc: Exception) -> None:
        """Celery rejects the message and marks the task failed; it is also dead-lettered."""
        super().on_unknown_task(body, message, exc)
        name = message.headers.get("task")
        self._keep(self._letter(message, f"task {name!r} is not registered with bgmigrate"))

    def refuse(self, message: Any, problem: str) -> None:
        """Reject ``message`` (not re-queued), log it and keep it in the dead-letter list."""
        letter = self._letter(message, problem)
        if not message.acknowledged:
            message.reject_log_error(logger, self.connection_errors)
        self._keep(letter)

    def _letter(self, message: Any, problem: str) -> DeadLetter:
        queue = (message.delivery_info or {}).get("routing_key") or "?"
        return dead_letter("celery", str(queue), problem, describe(message))

    def _keep(self, letter: DeadLetter) -> None:
        conf = self.app.conf
        url = next((u for u in (conf.broker_url, conf.result_backend) if is_redis_url(u)), None)
        if url is None:
            self._publish(letter)
            return
        if self._dead_letters is None:
            self._dead_letters = redis.Redis.from_url(
                url, socket_connect_timeout=3, socket_timeout=10
            )
        store(self._dead_letters, letter)

    def _publish(self, letter: DeadLetter) -> None:
        queue = Queue(DEAD_LETTER_QUEUE, durable=True)
        try:
            with self.app.producer_or_acquire() as producer:
                producer.publish(
                    letter.encode(),
                    exchange="",
                    routing_key=DEAD_LETTER_QUEUE,
                    declare=[queue],
                    content_type="application/json",
                    content_encoding="utf-8",
                )
        except self.connection_errors as exc:
            logger.error("could not keep the refused message in %s: %r", DEAD_LETTER_QUEUE, exc)
