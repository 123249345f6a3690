"""The Celery backend: publishes tasks to a Redis or RabbitMQ broker for Celery workers.

The worker: ``celery -A bgmigrate.adapters.celery:app worker`` (or ``bgmigrate worker``);
``app`` is built on first access from ``BGMIGRATE_*`` settings and ``TASK_MODULES``, so that
importing this module has no side effects.

A request's batch is published over one broker connection; with a Redis broker in one
``MULTI``/``EXEC`` round trip (see :mod:`bgmigrate.adapters.celery.redis_batch`). Celery does
not deduplicate, so an idempotency ``key`` is claimed in Redis with ``SET NX`` (kept
``RESULT_TTL`` seconds) before publishing; the same round trip marks each job as queued in the
result store, so a handle can tell ``READY`` from ``UNKNOWN`` (Celery itself reports ``PENDING``
for ids it never saw).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Sequence
from contextlib import nullcontext
from typing import Any, NamedTuple

import redis
from amqp.exceptions import AMQPError
from celery import Celery, signals
from celery.backends.base import KeyValueStoreBackend
from celery.exceptions import CeleryError
from kombu.exceptions import KombuError

from bgmigrate.adapters.call_options import FIELD, changed_options, check_call_options
from bgmigrate.adapters.celery.app_factory import broker_priority, make_app
from bgmigrate.adapters.celery.once import ONCE
from bgmigrate.adapters.celery.redis_batch import Template, one_round_trip
from bgmigrate.adapters.redelivery import time_limits
from bgmigrate.adapters.redis_stream import Stream
from bgmigrate.adapters.results import decode_registered, task_failed
from bgmigrate.backend import Capabilities, Job, TaskBackend, TaskHandle, TaskStatus
from bgmigrate.codec import members, with_members
from bgmigrate.errors import (
    ConfigError,
    EnqueueError,
    SerializationError,
    StatusError,
    UnknownJobError,
    UnsupportedOption,
)
from bgmigrate.settings import Settings
from bgmigrate.task import Task
from bgmigrate.tracing import NO_CARRIER, celery_instrumented, sending
from bgmigrate.urls import is_redis_url, redact_url

logger = logging.getLogger("bgmigrate.celery")

KEY_PREFIX = "bgmigrate:key:"
"""Redis key prefix of claimed idempotency keys (value: the id of the job that claimed it)."""
RESULT_PREFIX = KeyValueStoreBackend.task_keyprefix
POLL_INTERVAL = 0.05
ARGS_SHOWN = 1024
"""Characters of a task's arguments shown by Flower and in worker logs."""
_BROKER_ERRORS = (KombuError, CeleryError, AMQPError, redis.RedisError, OSError)
_STATUS = {
    "PENDING": TaskStatus.READY,  # only ever stored by us, at publish time
    "RECEIVED": TaskStatus.READY,
    "RETRY": TaskStatus.READY,
    "STARTED": TaskStatus.RUNNING,
    "SUCCESS": TaskStatus.SUCCESSFUL,
    "FAILURE": TaskStatus.FAILED,
    "REVOKED": TaskStatus.FAILED,
    "REJECTED": TaskStatus.FAILED,
}


class CeleryBackend(TaskBackend):
    """Sends tasks to Celery workers; results and idempotency keys live in Redis."""

    alias = "celery"
    capabilities = Capabilities(
        defer=True,
        result=True,
        retry=True,
        dedup=True,
        async_tasks=True,
        priority=True,
        timeout=True,
    )

    def __init__(self, settings: Settings) -> None:
        super().__init__(settings)
        if settings.result_url is not None and not is_redis_url(settings.result_url):
            raise ConfigError(
                f"BGMIGRATE_RESULT_URL: the celery backend keeps results in Redis, got "
                f"{redact_url(settings.result_url)!r} (e.g. redis://127.0.0.1:6379/1)"
            )
        self.app = make_app(settings, publisher=True)
        # Idempotency keys need Redis: the result store, else a Redis broker.
        self._store_url = settings.result_url or (
            settings.broker_url if is_redis_url(settings.broker_url) else None
        )
        self._store: redis.Redis | None = None
        # Sync endpoints enqueue from many threads: two first requests must build one client.
        self._store_lock = threading.Lock()
        self._stream = Stream()
        """The outbox relay's connection to a Redis broker (see :meth:`relay`)."""

    def validate_task(self, task: Task[Any, Any]) -> None:
        """Also refuse idempotency keys and results when no Redis is configured for them,
        and per-call options a worker could not apply (see ``check_call_options``)."""
        super().validate_task(task)
        check_call_options(task, self.alias)
        if task.options.key is not None and self._store_url is None:
            raise UnsupportedOption(
                f"task {task.name!r} sets key=, which the celery backend implements in Redis: "
                "set BGMIGRATE_RESULT_URL=redis://... (your broker is not Redis)"
            )

    def _redis(self) -> redis.Redis:
        assert self._store_url is not None, "validate_task refuses keys without a Redis store"
        with self._store_lock:
            if self._store is None:
                self._store = redis.Redis.from_url(
                    self._store_url, socket_connect_timeout=3, socket_timeout=10
                )
            return self._store

    async def close(self) -> None:
        """Release the broker connection pool and the Redis clients."""
        self._stream.close()
        self.app.close()
        if self._store is not None:
            self._store.close()
            self._store = None

    # -- enqueueing -------------------------------------------------------------------------

    def enqueue(self, jobs: Sequence[Job]) -> list[TaskHandle]:
        """Claim keys, mark jobs queued, then publish the batch over one connection."""
        claimed = self._enqueue(jobs, None)
        return [TaskHandle(claimed.get(job.id, job.id), self) for job in jobs]

    def relay(self, jobs: Sequence[Job]) -> None:
        """:meth:`enqueue` for the outbox relay: on a Redis broker, each ``LPUSH`` is sent as
        soon as it is full, on the relay's own connection (see ``redis_stream.Stream``)."""
        self._enqueue(jobs, self._stream)

    def _enqueue(self, jobs: Sequence[Job], stream: Stream | None) -> dict[str, str]:
        """Claim, mark and publish; the ids of the jobs holding the keyed jobs' keys."""
        try:
            claimed = self._claim(jobs)
        except (redis.RedisError, OSError) as exc:
            raise self._enqueue_error(self._store_url or "", jobs, exc) from exc
        to_send = [job for job in jobs if claimed.get(job.id, job.id) == job.id]
        for job in to_send:
            self._warn_long_delay(job)
        try:
            self._publish(to_send, stream)
        except _BROKER_ERRORS as exc:
            self._release(to_send)
            raise self._enqueue_error(self.settings.broker_url, jobs, exc) from exc
        except (TypeError, ValueError) as exc:  # kombu could not serialize a message
            self._release(to_send)
            raise SerializationError(f"a task message could not be encoded: {exc}") from exc
        return claimed

    def _claim(self, jobs: Sequence[Job]) -> dict[str, str]:
        """Claim idempotency keys and mark jobs queued: one round trip for the batch.

        Returns, for each keyed job, the id of the job that holds its key (itself if new).
        """
        if self.settings.result_url is None and not any(job.task.options.key for job in jobs):
            return {}
        ttl = self.settings.result_ttl
        if len(jobs) == 1 and jobs[0].task.options.key is None:
            # The most common call, one plain command: cheaper than a pipeline of one.
            self._redis().set(RESULT_PREFIX + jobs[0].id, _queued_meta(jobs[0]), ex=ttl, nx=True)
            return {}
        keyed: list[Job] = []
        with self._redis().pipeline(transaction=False) as pipe:
            for job in jobs:
                key = job.task.options.key
                if key is not None:
                    pipe.set(KEY_PREFIX + key, job.id, nx=True, ex=ttl)
                    pipe.get(KEY_PREFIX + key)
                    keyed.append(job)
            if self.settings.result_url is not None:
                for job in jobs:
                    pipe.set(RESULT_PREFIX + job.id, _queued_meta(job), ex=ttl, nx=True)
            replies = pipe.execute()
        return {job.id: replies[2 * i + 1].decode() for i, job in enumerate(keyed)}

    def _release(self, jobs: Sequence[Job]) -> None:
        """Best effort: free the keys and queued marks of jobs that were not published."""
        names = [KEY_PREFIX + job.task.options.key for job in jobs if job.task.options.key]
        names += [RESULT_PREFIX + job.id for job in jobs if self.settings.result_url]
        if names:
            try:
                self._redis().delete(*names)
            except (redis.RedisError, OSError):
                logger.warning("could not release %d idempotency key(s)", len(names))

    def _publish(self, jobs: Sequence[Job], stream: Stream | None) -> None:
        if not jobs:
            return
        traced = not celery_instrumented()
        with (
            sending(self.alias, jobs, self._queue_of, traced=traced) as carriers,
            self.app.producer_or_acquire() as producer,
            # One message gains nothing from a transaction; a batch is sent in one round trip
            # (the relay's, in parts: see redis_stream.Stream).
            one_round_trip(producer.channel, stream) if len(jobs) > 1 else nullcontext() as batch,
        ):
            # Celery declares the target queue on every publish (a kombu entity copy and a cache
            # lookup each time): once per queue and batch is enough on one producer.
            declared: set[str | None] = set()
            # A batch's jobs share few tasks (and one publication id, from the relay): what is
            # sent for a task is worked out once per batch.
            sends: dict[tuple[int, str | None], _Send] = {}
            # Where send_task does nothing per message but build it, Celery builds the first
            # message of each task and options, and the others are copies of it.
            templates: dict[tuple[Any, ...], Template | None] = {}
            copying = batch is not None and _builds_only(self.app)
            for job in jobs:
                send = sends.get((id(job.task), job.publish_id))
                if send is None:
                    send = sends[id(job.task), job.publish_id] = self._send(job)
                # The enqueue span's trace context, where Celery's instrumentation puts it.
                carrier = carriers.get(job.id, NO_CARRIER)
                like = (*send.like, *sorted(carrier)) if carrier else send.like
                template = templates.get(like) if copying else None
                if batch is not None and template is not None:
                    parts = _json_parts(job)
                    call = (parts[0], with_members(parts[1], send.members))
                    batch.push_like(template, job.id, call, _shown(parts), carrier)
                    continue
                payload = job.decoded_payload()
                kwargs = payload["kwargs"]
                if send.changed:
                    kwargs = {**kwargs, FIELD: send.changed}
                queue = job.task.options.queue
                extra: dict[str, Any] = {"declare": []} if queue in declared else {}
                declared.add(queue)
                if carrier:
                    extra["headers"] = dict(carrier)
                argsrepr, kwargsrepr = _shown(_json_parts(job))
                self.app.send_task(
                    job.task.name,
                    args=payload["args"],
                    kwargs=kwargs,
                    task_id=job.id,
                    producer=producer,
                    # What Flower and the worker log show; JSON is cheaper than saferepr.
                    argsrepr=argsrepr,
                    kwargsrepr=kwargsrepr,
                    **send.options,
                    **extra,
                )
                if batch is not None and copying and not job.task.options.deferred:
                    # A deferred job's message holds its due time: it is no template.
                    templates[like] = batch.template(carrier)

    def _send(self, job: Job) -> _Send:
        """What is sent for ``job``'s task beside its arguments (the same for every job of
        that task object and publication)."""
        changed = changed_options(job.task)
        if job.publish_id is not None:
            changed[ONCE] = job.publish_id
        options = self._options(job, changed)
        return _Send(
            changed=changed,
            options=options,
            like=(job.task.name, *sorted(options.items())),
            members=members({FIELD: changed}) if changed else "",
        )

    def _queue_of(self, job: Job) -> str:
        return str(job.task.options.queue or self.app.conf.task_default_queue)

    def _options(self, job: Job, changed: dict[str, Any]) -> dict[str, Any]:
        options = job.task.options
        sent: dict[str, Any] = {}
        if options.queue is not None:
            sent["queue"] = options.queue
        if options.priority is not None:
            sent["priority"] = broker_priority(self.settings, options.priority)
        if options.delay is not None:
            sent["countdown"] = options.delay
        elif options.run_after is not None:
            sent["eta"] = options.run_after
        if "timeout" in changed:
            # The message's own limits: a worker kills a sync attempt by them, not the task's.
            sent.update(time_limits(job.task))
        return sent

    def _warn_long_delay(self, job: Job) -> None:
        """Warn when a Redis broker would re-deliver ``job`` before it is due."""
        options = job.task.options
        if not options.deferred or not is_redis_url(self.settings.broker_url):
            return
        delay = options.seconds_until_due()
        if delay > self.settings.visibility_timeout:
            logger.warning(
                "task %s is delayed %.0f s, more than the Redis visibility timeout (%d s): "
                "the worker holding it unacknowledged will see it re-delivered and it may run "
                "more than once; raise BGMIGRATE_VISIBILITY_TIMEOUT or schedule it later",
                job.task.name,
                delay,
                self.settings.visibility_timeout,
            )

    def _enqueue_error(self, url: str, jobs: Sequence[Job], exc: Exception) -> EnqueueError:
        names = ", ".join(sorted({job.task.name for job in jobs}))
        return EnqueueError(
            f"celery broker at {redact_url(url)} did not accept {len(jobs)} task(s) "
            f"({names}): {type(exc).__name__}: {exc}"
        )

    # -- status and results -----------------------------------------------------------------

    def _meta(self, job_id: str) -> dict[str, Any] | None:
        if self.settings.result_url is None:
            raise UnsupportedOption(
                "the celery backend keeps no status or results: set BGMIGRATE_RESULT_URL=redis://..."
            )
        try:
            raw: bytes | None = self._redis().get(RESULT_PREFIX + job_id)  # type: ignore[assignment]
        except (redis.RedisError, OSError) as exc:
            raise StatusError(
                f"cannot read task state from {redact_url(self._store_url or '')}: {exc}"
            ) from exc
        return None if raw is None else dict(json.loads(raw))

    def status(self, job_id: str) -> TaskStatus:
        """The job's state in the result store; ``UNKNOWN`` for ids it never saw."""
        meta = self._meta(job_id)
        return (
            TaskStatus.UNKNOWN if meta is None else _STATUS.get(meta["status"], TaskStatus.UNKNOWN)
        )

    def result(self, job_id: str, timeout: float | None) -> Any:
        """Wait for the job's result; ``TaskFailed`` if it failed, ``TimeoutError`` if late."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            meta = self._meta(job_id)
            if meta is None:
                raise UnknownJobError(f"no celery task {job_id!r} is known (or its result expired)")
            if _STATUS.get(meta["status"]) in (TaskStatus.SUCCESSFUL, TaskStatus.FAILED):
                return _outcome(meta)
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"celery task {job_id} not finished in {timeout} s")
            time.sleep(POLL_INTERVAL)


class _Send(NamedTuple):
    """What is sent for a task beside a job's arguments."""

    changed: dict[str, Any]
    """The call options that travel in the message (see ``call_options``)."""
    options: dict[str, Any]
    """``send_task``'s options."""
    like: tuple[Any, ...]
    """What, with the trace headers' names, tells which jobs' messages are copies of one."""
    members: str
    """The JSON text of what ``changed`` adds to the kwargs (see ``codec.members``)."""


def _builds_only(app: Celery) -> bool:
    """Whether ``send_task`` does nothing per message but build and publish it: no publish
    signal has a receiver (OpenTelemetry's Celery instrumentation is one), no task routes, no
    sent events, no result backend to subscribe to results, and no task is running in this
    thread (whose ids a message would carry)."""
    return not (
        signals.before_task_publish.receivers
        or signals.after_task_publish.receivers
        or signals.task_sent.receivers
        or app.amqp.routes
        or app.conf.task_send_sent_event
        or app.conf.result_backend
        or app.current_worker_task
    )


def _json_parts(job: Job) -> tuple[str, str]:
    """The job's ``args`` and ``kwargs`` as JSON texts: as the outbox stored them, else encoded
    now."""
    if job.encoded is not None:  # already JSON: no need to encode it again
        return job.encoded.args, job.encoded.kwargs
    payload = job.decoded_payload()
    args, kwargs = (json.dumps(payload[p], separators=(",", ":")) for p in ("args", "kwargs"))
    return args, kwargs


def _shown(parts: tuple[str, str]) -> tuple[str, str]:
    """A job's JSON ``parts``, each shortened to ``ARGS_SHOWN`` characters."""
    return _shortened(parts[0]), _shortened(parts[1])


def _shortened(text: str) -> str:
    return text if len(text) <= ARGS_SHOWN else text[: ARGS_SHOWN - 3] + "..."


def _queued_meta(job: Job) -> str:
    return json.dumps(
        {"status": "PENDING", "result": None, "task_id": job.id, "name": job.task.name}
    )


def _outcome(meta: dict[str, Any]) -> Any:
    name = str(meta.get("name") or "?")
    result = meta.get("result")
    if meta["status"] != "SUCCESS":
        error = result if isinstance(result, dict) else {}
        exc_args = error.get("exc_message") or ()
        message = " ".join(map(str, exc_args)) if isinstance(exc_args, list) else str(exc_args)
        exc_type = f"{error.get('exc_module', 'builtins')}.{error.get('exc_type', meta['status'])}"
        raise task_failed(name, {"type": exc_type, "message": message})
    return decode_registered(name, result)
