"""Publish a batch of Celery messages over kombu's Redis transport in one round trip.

kombu's Redis transport costs two round trips per message: it reads the exchange's bindings
(``SMEMBERS``) and then ``LPUSH``-es the message. For a request's batch, bgmigrate queues the
pushes in one ``MULTI``/``EXEC`` transaction (messages that follow one another to the same list
in one ``LPUSH``) and reads each exchange's bindings once, so the batch costs one round trip
and is all or nothing, like an ARQ batch. The outbox relay's batches instead go to a
:class:`~bgmigrate.adapters.redis_stream.Stream`: each ``LPUSH`` of up to :data:`STREAMED`
messages is sent as soon as it is full, and Redis stores it while the next is built.

This overrides two methods of one ``kombu.transport.redis.Channel`` (``_put`` and
``get_table``) while the batch is published, and restores them after. kombu is pinned to
5.6.x; the tests check the commands Redis receives and that real workers run the tasks.

A message that Celery built for one job is also a :class:`Template` for the other jobs of the
same task and options: :meth:`RedisBatch.push_like` writes its JSON again with another job's
id, arguments, trace headers and delivery tag, which is all that differs between two such
messages (a test compares a copy with the message Celery builds for the same job). The caller
copies only where Celery itself would do nothing more per message than build it (see
``bgmigrate.adapters.celery.backend``).
"""

from __future__ import annotations

import base64
import functools
import json
import os
import re
from binascii import b2a_base64
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _quoted
from operator import itemgetter
from typing import Any

from kombu.transport.redis import Channel as RedisChannel
from kombu.utils.json import dumps
from kombu.utils.uuid import uuid

from bgmigrate.adapters.redis_stream import Stream

_MARK = f"bgmigrate-{uuid()}:"
"""Prefix of the placeholders a template's JSON text is cut at (random: no Celery value holds
it)."""
_PLACEHOLDER = re.compile(f'"{re.escape(_MARK)}([^"]*)"')
MAX_PUSHED = 1000
"""Most messages pushed by one ``LPUSH``."""
STREAMED = 250
"""Most messages pushed by one ``LPUSH`` to a ``Stream``."""
SHOWN = ("argsrepr", "kwargsrepr")
"""The headers (and, as Celery sends them, properties) that show a message's arguments."""
VALUES = ("id", "body", "delivery_tag", *SHOWN)
"""What differs between two messages of one template, in the order :meth:`RedisBatch.push_like`
gives them; the trace headers follow."""
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}


@dataclass(frozen=True)
class Template:
    """A message Celery built (a kombu envelope) as JSON text cut where another job's message
    differs: its id, arguments, trace headers and delivery tag."""

    key: str
    """The Redis list it went to (its queue, with the priority's suffix)."""
    text: str
    """The message's JSON text with a ``%s`` where each differing value goes (its own ``%``
    doubled)."""
    pick: Callable[[Sequence[str]], tuple[str, ...]]
    """Takes the differing values (:data:`VALUES`, then the trace headers) and returns them
    in the order :attr:`text` holds them, repeated where it holds one more than once."""
    headers: tuple[str, ...]
    """The names of the trace headers, in the order their values follow :data:`VALUES`."""
    embed: str
    """The JSON text of the body's third part (callbacks, errbacks, chain, chord)."""


class RedisBatch:
    """The pushes of one transaction: Celery's own messages, and copies of them.

    Messages that follow one another to the same list go in one ``LPUSH``, which leaves the
    list as one ``LPUSH`` per message would.
    """

    def __init__(self, channel: RedisChannel, pipe: Any, most: int = MAX_PUSHED) -> None:
        self._channel = channel
        self._pipe = pipe
        self._most = most
        self._last: tuple[str, dict[str, Any]] | None = None
        self._key: str | None = None
        self._pushed: list[str] = []

    def put(self, queue: str, message: dict[str, Any], **_: Any) -> None:
        """As ``RedisChannel._put`` does it, into the transaction instead of straight to Redis."""
        priority = self._channel._get_message_priority(message, reverse=False)
        key = self._channel._q_for_pri(queue, priority)
        self._push(key, dumps(message))
        self._last = (key, message)

    def _push(self, key: str, data: str) -> None:
        if key != self._key or len(self._pushed) == self._most:
            self.flush()
            self._key = key
        self._pushed.append(data)

    def flush(self) -> None:
        """Queue the pending ``LPUSH`` in the transaction."""
        if self._pushed:
            self._pipe.lpush(self._key, *self._pushed)
            self._pushed = []

    def template(self, headers: Mapping[str, str]) -> Template | None:
        """The last message Celery published in this batch, sent with the trace ``headers``, as
        a template; ``None`` if there is none, or if it cannot be copied (its body is not
        base64-encoded JSON, or it belongs to a parent task)."""
        if self._last is None:
            return None
        key, message = self._last
        properties, sent_headers = message["properties"], message["headers"]
        job_id = sent_headers.get("id")
        if (
            sent_headers.get("root_id") != job_id  # a task's own root: sent from no task
            or sent_headers.get("parent_id") is not None
            or properties.get("correlation_id") != job_id
            or message.get("content-type") != "application/json"
            or message.get("content-encoding") != "utf-8"
            or properties.get("body_encoding") != "base64"
        ):
            return None
        body = json.loads(base64.b64decode(message["body"]))
        shown = {name: _MARK + name for name in SHOWN}
        marked = {
            **message,
            "body": _MARK + "body",
            "headers": {
                **sent_headers,
                **{name: _MARK + "header:" + name for name in headers},
                **shown,
                "id": _MARK + "id",
                "root_id": _MARK + "id",
            },
            "properties": {
                **properties,
                **{name: value for name, value in shown.items() if name in properties},
                "correlation_id": _MARK + "id",
                "delivery_tag": _MARK + "delivery_tag",
            },
        }
        cut = _PLACEHOLDER.split(dumps(marked))
        names = (*VALUES, *("header:" + name for name in headers))
        return Template(
            key,
            "%s".join(part.replace("%", "%%") for part in cut[::2]),
            itemgetter(*(names.index(field) for field in cut[1::2])),
            tuple(headers),
            json.dumps(body[2]),
        )

    def push_like(
        self,
        template: Template,
        job_id: str,
        call: tuple[str, str],
        shown: tuple[str, str],
        headers: Mapping[str, str],
    ) -> None:
        """Push a copy of ``template`` for another job: its id, its ``call`` (the JSON texts of
        its args and kwargs), what is ``shown`` of them (``argsrepr``, ``kwargsrepr``) and its
        trace ``headers`` (the same names as the template's); the copy gets its own delivery
        tag, a random UUID as kombu gives every message."""
        body = f"[{call[0]}, {call[1]}, {template.embed}]".encode()
        values: tuple[str, ...] = (
            job_id,
            b2a_base64(body, newline=False).decode(),
            _uuid4(),
            *shown,
        )
        if template.headers:
            values += tuple(headers[name] for name in template.headers)
        self._push(template.key, template.text % template.pick(tuple(map(_quoted, values))))


def _uuid4() -> str:
    """A random (version 4) UUID's text, like ``str(uuid.uuid4())`` in a third of its time."""
    digits = os.urandom(16).hex()
    return (
        f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-"
        f"{_VARIANT[digits[16]]}{digits[17:20]}-{digits[20:]}"
    )


@contextmanager
def one_round_trip(channel: Any, stream: Stream | None = None) -> Iterator[RedisBatch | None]:
    """Buffer what is published on ``channel`` inside the block; send it all at the end, in
    one ``MULTI``/``EXEC`` (or, given a ``stream``, each ``LPUSH`` as soon as it is full).

    Yields the batch on a Redis channel; other transports (AMQP) publish as usual, and get
    ``None``.
    """
    if not isinstance(channel, RedisChannel):
        yield None
        return
    pipe: Any = stream or channel._create_client().pipeline(transaction=True)
    if stream is not None:
        stream.bind(channel.pool)
    batch = RedisBatch(channel, pipe, MAX_PUSHED if stream is None else STREAMED)
    channel._put, channel.get_table = batch.put, functools.cache(channel.get_table)
    try:
        yield batch
        batch.flush()
        pipe.execute()
    finally:
        del channel._put, channel.get_table
        pipe.reset()
