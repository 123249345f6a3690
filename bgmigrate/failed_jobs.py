"""Failed jobs: kept in Redis when their attempts are exhausted, to be listed, retried or discarded.

Every backend keeps a job that failed for good (its retry policy allowed no further attempt) as
one JSON record (:class:`FailedJob`) in the Redis hash :data:`RECORDS_KEY`, indexed by failure
time in the sorted set :data:`INDEX_KEY`. One Lua script stores a record and trims the store to
``BGMIGRATE_FAILED_JOBS_MAX`` records and ``BGMIGRATE_FAILED_JOBS_TTL`` seconds, oldest first,
in one round trip.

The store is ``BGMIGRATE_FAILED_JOBS_URL``, else the broker when it is Redis (Celery and ARQ
workers), else Celery's Redis result store. The in-process backend keeps failed jobs only when
``BGMIGRATE_FAILED_JOBS_URL`` is set: a store in the web process's memory would vanish with the
process and could not be read by ``bgmigrate jobs``.
"""

from __future__ import annotations

import asyncio
import builtins
import functools
import json
import logging
import reprlib
import time
import traceback
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from bgmigrate.backend import TaskHandle
from bgmigrate.codec import Payload, codec_for
from bgmigrate.errors import BgmigrateError, ConfigError, UnknownJobError
from bgmigrate.registry import registry
from bgmigrate.settings import Settings, load_settings
from bgmigrate.urls import is_redis_url, redact_url

if TYPE_CHECKING:
    import redis

    from bgmigrate.adapters.dead_letter import DeadLetter

logger = logging.getLogger("bgmigrate")

INDEX_KEY = "bgmigrate:failed"
"""Redis sorted set: failed job ids scored by failure time (Unix seconds)."""
RECORDS_KEY = "bgmigrate:failed:records"
"""Redis hash: failed job id -> its JSON record."""
MESSAGE_CHARS = 2000
"""Characters of an error message kept in a record."""
TRACEBACK_CHARS = 8000
"""Characters of a traceback kept in a record (its end, where the error is)."""
PAYLOAD_BYTES = 64 * 1024
"""Largest encoded arguments kept for a retry; a record with larger ones cannot be retried."""

Call = tuple[tuple[Any, ...], Mapping[str, Any]]
"""A call's positional and keyword arguments."""

_summary = reprlib.Repr()
_summary.maxstring = _summary.maxother = 80
_summary.maxlist = _summary.maxdict = 5
_summary.maxlevel = 2

# Store the record, then drop records past the age limit and, oldest first, past the count.
_KEEP = """
redis.call('HSET', KEYS[2], ARGV[1], ARGV[3])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[1])
local gone = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[5])
local over = redis.call('ZCARD', KEYS[1]) - #gone - tonumber(ARGV[4])
if over > 0 then
  for _, id in ipairs(redis.call('ZRANGE', KEYS[1], #gone, #gone + over - 1)) do
    table.insert(gone, id)
  end
end
for _, id in ipairs(gone) do
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
end
return #gone
"""


def describe_args(args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """A call's arguments as logs show them: each value's repr cut to 80 characters and
    collections to 5 items, so that a large or sensitive blob is not copied whole."""
    parts = [_summary.repr(arg) for arg in args]
    parts += [f"{name}={_summary.repr(value)}" for name, value in kwargs.items()]
    return ", ".join(parts)


@dataclass(frozen=True, slots=True)
class FailedJob:
    """One job whose attempts were exhausted."""

    id: str
    """The failed job's id."""
    task: str
    """The task's registered name."""
    backend: str
    """``inprocess``, ``celery`` or ``arq``: where it failed."""
    args: str
    """The arguments as logs show them (see :func:`describe_args`)."""
    error_type: str
    """The exception's class, as ``module.QualName``."""
    error: str
    """The exception's message (its first :data:`MESSAGE_CHARS` characters)."""
    traceback: str
    """The traceback (its last :data:`TRACEBACK_CHARS` characters)."""
    attempts: int
    """Attempts made."""
    enqueued_at: float | None
    """When the job was first enqueued (Unix seconds; ``None`` when the backend does not say)."""
    failed_at: float
    """When the last attempt failed (Unix seconds)."""
    payload: Payload | None
    """The arguments encoded as JSON, to retry with; ``None`` when they could not be kept."""

    @property
    def retryable(self) -> bool:
        """Whether the original arguments were kept, so that :meth:`FailedJobs.retry` works."""
        return self.payload is not None

    def encode(self) -> str:
        """This record as the JSON stored in Redis."""
        return json.dumps(asdict(self))


def failed_job(
    job_id: str,
    task: str,
    backend: str,
    call: Call,
    exc: BaseException,
    attempts: int,
    payload: Payload | None,
    enqueued_at: float | None = None,
) -> FailedJob:
    """The record of job ``job_id`` of ``task``, called with ``call`` (``payload`` encoded),
    failed with ``exc`` on attempt ``attempts``."""
    if payload is not None and len(json.dumps(payload)) > PAYLOAD_BYTES:
        payload = None
    kind = type(exc)
    text = "".join(traceback.format_exception(exc))
    return FailedJob(
        id=job_id,
        task=task,
        backend=backend,
        args=describe_args(*call),
        error_type=f"{kind.__module__}.{kind.__qualname__}",
        error=str(exc)[:MESSAGE_CHARS],
        traceback=text[-TRACEBACK_CHARS:],
        attempts=attempts,
        enqueued_at=enqueued_at,
        failed_at=time.time(),
        payload=payload,
    )


def store_url(settings: Settings, backend: str | None = None) -> str | None:
    """The Redis URL of the failed-job store for ``backend`` (``None``: any queue backend),
    or ``None`` when there is none (see the module's docstring)."""
    if settings.failed_jobs_url is not None:
        return settings.failed_jobs_url
    if backend == "inprocess":
        return None
    for url in (settings.broker_url, settings.result_url):
        if is_redis_url(url):
            return url
    return None


def keeps_failed_jobs(settings: Settings, backend: str) -> bool:
    """Whether ``backend`` keeps its failed jobs under ``settings`` (a store, and a max > 0)."""
    return store_url(settings, backend) is not None and settings.failed_jobs_max > 0


@functools.cache
def _client(url: str) -> redis.Redis:
    # One client (and connection pool) per URL and process; redis-py's clients are thread-safe.
    # redis-py comes with the celery and arq extras: imported here, so that an application on
    # the in-process backend alone does not need it.
    try:
        import redis
    except ImportError as exc:
        raise ConfigError(
            "the failed-job store needs redis-py: pip install 'bgmigrate[arq]' (or [celery])"
        ) from exc
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=5)


def _redis_errors() -> tuple[type[Exception], ...]:
    """What a call to Redis raises when Redis is down or refuses it."""
    try:
        import redis
    except ImportError:
        return (OSError,)
    return (redis.RedisError, OSError)


async def akeep(settings: Settings, record: FailedJob) -> None:
    """:func:`keep` on a thread, for workers that run on an event loop."""
    await asyncio.to_thread(keep, settings, record)


def keep(settings: Settings, record: FailedJob) -> None:
    """Store ``record`` and trim the store to its bounds, in one round trip.

    Nothing is stored when the store is off (``FAILED_JOBS_MAX=0``) or there is none; a Redis
    error is logged, not raised (the job has failed either way).
    """
    url = store_url(settings, record.backend)
    if url is None or not keeps_failed_jobs(settings, record.backend):
        return
    cutoff = record.failed_at - settings.failed_jobs_ttl
    # ConfigError: redis-py is not installed.
    errors: tuple[type[Exception], ...] = (*_redis_errors(), ConfigError)
    try:
        _client(url).eval(
            _KEEP,
            2,
            INDEX_KEY,
            RECORDS_KEY,
            record.id,
            repr(record.failed_at),
            record.encode(),
            str(settings.failed_jobs_max),
            repr(cutoff),
        )
    except errors as exc:
        logger.error("could not keep failed job %s in %s: %r", record.id, redact_url(url), exc)


class FailedJobs:
    """The failed-job store: list, retry and discard failed jobs (and read the dead letters)."""

    def __init__(self, settings: Settings) -> None:
        url = store_url(settings)
        if url is None:
            raise ConfigError(
                "no failed-job store: set BGMIGRATE_FAILED_JOBS_URL to a Redis URL "
                "(or use a Redis broker), e.g. BGMIGRATE_FAILED_JOBS_URL=redis://127.0.0.1:6379/0"
            )
        self.settings = settings
        self.url = url
        self._redis = _client(url)

    def list(self, *, task: str | None = None, since: float | None = None) -> list[FailedJob]:
        """Failed jobs, oldest first: of ``task`` only, failed at or after ``since`` (Unix s)."""
        cutoff = max(since or 0.0, time.time() - self.settings.failed_jobs_ttl)
        ids: list[bytes] = self._call(self._redis.zrangebyscore, INDEX_KEY, cutoff, "+inf")
        if not ids:
            return []
        raw: list[bytes | None] = self._call(self._redis.hmget, RECORDS_KEY, ids)
        jobs = [FailedJob(**json.loads(item)) for item in raw if item is not None]
        return [job for job in jobs if task is None or job.task == task]

    def get(self, job_id: str) -> FailedJob:
        """The failed job ``job_id``; ``UnknownJobError`` if the store does not hold it."""
        raw: bytes | None = self._call(self._redis.hget, RECORDS_KEY, job_id)
        if raw is None:
            raise UnknownJobError(f"no failed job with id {job_id!r} is kept")
        return FailedJob(**json.loads(raw))

    def retry(self, job_id: str) -> TaskHandle:
        """Enqueue the failed job's task again with its original arguments (a new job, routed
        as any call of the task), then remove the record. Only the arguments are carried: a
        call's own options (``Task.using``) are not kept, the registered ones apply."""
        job = self.get(job_id)
        if job.payload is None:
            raise BgmigrateError(
                f"failed job {job_id} cannot be retried: its arguments were over "
                f"{PAYLOAD_BYTES} bytes and were not kept; discard it"
            )
        if job.task not in registry:
            raise ConfigError(
                f"task {job.task!r} is not registered: set BGMIGRATE_TASK_MODULES to the module "
                "that defines it (or import it) before retrying"
            )
        from bgmigrate.runtime import get_runtime  # the runtime imports the backends

        task = registry.get(job.task)
        codec = codec_for(task.func, task.name)
        args, kwargs = codec.decode(job.payload, max_bytes=self.settings.max_payload_bytes)
        handle = get_runtime().enqueue(task, args, kwargs)
        self.discard(job_id)
        return handle

    def retry_all(self, *, task: str | None = None) -> builtins.list[TaskHandle]:
        """Retry every kept failed job (of ``task`` only), oldest first."""
        return [self.retry(job.id) for job in self.list(task=task)]

    def discard(self, job_id: str) -> bool:
        """Remove the record of ``job_id`` for good; ``False`` if it was not kept."""
        with self._redis.pipeline() as pipe:
            pipe.hdel(RECORDS_KEY, job_id)
            pipe.zrem(INDEX_KEY, job_id)
            removed, _ = self._call(pipe.execute)
        return bool(removed)

    def discard_all(self, *, task: str | None = None) -> int:
        """Remove every kept failed job (of ``task`` only); the number removed."""
        return sum(self.discard(job.id) for job in self.list(task=task))

    def dead_letters(self) -> builtins.list[DeadLetter]:
        """The malformed messages workers refused (see :mod:`bgmigrate.adapters.dead_letter`),
        read from the broker's Redis, newest first."""
        url = self.settings.broker_url if is_redis_url(self.settings.broker_url) else self.url
        from bgmigrate.adapters.dead_letter import read_dead_letters

        letters: builtins.list[DeadLetter] = self._call(read_dead_letters, _client(url))
        return letters

    def _call(self, method: Any, *args: Any) -> Any:
        try:
            return method(*args)
        except _redis_errors() as exc:
            raise BgmigrateError(
                f"failed-job store at {redact_url(self.url)} is unreachable: {exc}"
            ) from exc


def failed_jobs(settings: Settings | None = None) -> FailedJobs:
    """The failed-job store of ``settings`` (read from the environment when not given)."""
    return FailedJobs(settings or load_settings())
