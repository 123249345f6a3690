"""ARQ's storage format, spoken directly: JSON jobs, one-round-trip batch enqueue, status.

arq's own ``enqueue_job`` costs a WATCH/EXISTS/MULTI/EXEC exchange per job. A request's batch
is instead written by one Lua script call (the outbox relay's larger batches by several, sent
back to back) that does, atomically, what ``enqueue_job`` does per job: skip the job when its
job or result key exists (``_job_id`` uniqueness), else ``PSETEX`` the job and ``ZADD`` it to
its queue (one ``ZADD`` per queue and 500 jobs: Lua's calls into Redis are most of a batch's
cost). A job's bytes come from arq's own ``serialize_job`` (with the JSON serializer
:func:`dumps`) and its keys from arq's key prefixes, so an unmodified arq worker (configured
with :func:`dumps`/:func:`loads`) runs them. What the script writes where is arq's internal
layout: it is tested against the arq versions that ``pyproject.toml`` allows (see
docs/backends.md).
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Sequence
from typing import Any, NamedTuple, TypeGuard

from arq.constants import (
    expires_extra_ms,
    in_progress_key_prefix,
    job_key_prefix,
    result_key_prefix,
)
from arq.jobs import SerializationError as ArqSerializationError
from arq.jobs import serialize_job

from bgmigrate.adapters.results import describe_error
from bgmigrate.backend import TaskStatus
from bgmigrate.codec import EncodedCall
from bgmigrate.errors import SerializationError

ENQUEUE_SCRIPT = """
local added, queued = {}, {}
local runs = tonumber(ARGV[1])
local k, a = 1, 2 + 2 * runs
for run = 1, runs do
  local queue, expiry = KEYS[#KEYS - runs + run], ARGV[2 * run + 1]
  local members = queued[queue]
  if members == nil then
    members = {}
    queued[queue] = members
  end
  for _ = 1, tonumber(ARGV[2 * run]) do
    if redis.call('EXISTS', KEYS[k], KEYS[k + 1]) == 0 then
      redis.call('PSETEX', KEYS[k], expiry, ARGV[a + 2])
      members[#members + 1] = ARGV[a + 1]
      members[#members + 1] = ARGV[a]
      added[#added + 1] = 1
    else
      added[#added + 1] = 0
    end
    k, a = k + 2, a + 3
  end
end
for queue, members in pairs(queued) do
  for first = 1, #members, 1000 do
    redis.call('ZADD', queue, unpack(members, first, math.min(first + 999, #members)))
  end
end
return added
"""
"""KEYS: (job key, result key) per job, then the queue of each run of jobs; ARGV: the number
of runs, (job count, expiry ms) per run, then (job id, score, data) per job. A run is jobs that
follow one another with the same queue and expiry (usually a whole batch), which then need not
be sent with every job: reading its arguments costs the script about as much as its calls into
Redis (3.4 of 6.8 ms of server time for 1,000 jobs)."""


class ArqJob(NamedTuple):
    """One job as arq stores it: its id, queue, function name, JSON arguments and start time.

    A named tuple: a relay batch builds a thousand of them, and a frozen dataclass costs
    several times as much to make.
    """

    job_id: str
    queue: str
    function: str
    args: Sequence[Any]
    kwargs: dict[str, Any]
    defer_ms: int = 0
    """Milliseconds from enqueue until the job may start."""
    encoded: EncodedCall | None = None
    """The arguments as JSON texts, written as they are instead of ``args`` and ``kwargs``."""


def dumps(data: dict[str, Any]) -> bytes:
    """arq job/result serializer: JSON, exceptions stored as their type and message."""
    return json.dumps(data, default=_exception_to_json, separators=(",", ":")).encode()


def loads(raw: bytes) -> dict[str, Any]:
    """arq job/result deserializer: the inverse of :func:`dumps` (never unpickles)."""
    data: dict[str, Any] = json.loads(raw)
    return data


def load_job(raw: bytes) -> dict[str, Any]:
    """arq job deserializer for workers: :func:`loads`, then :func:`job_problem` checked, so
    that a job with a field of the wrong type fails as undecodable instead of stopping arq."""
    data: Any = loads(raw)
    problem = job_problem(data)
    if problem is not None:
        raise ValueError(f"malformed arq job: {problem}")
    return dict(data)


def job_problem(data: Any) -> str | None:
    """What makes ``data`` (a decoded job) unfit for arq's worker, or ``None`` if nothing.

    arq reads a job's fields without checking their types: a string try count, a list as the
    function name or an enqueue time beyond year 9999 raise inside its loop and stop the worker.
    """
    if not isinstance(data, dict):
        return f"a job is a JSON object, not {type(data).__name__}"
    expected = {"f": str, "a": list, "k": dict}
    for field, kind in expected.items():
        if not isinstance(data.get(field), kind):
            return f"field {field!r} is {_shown(data.get(field))}, not a {kind.__name__}"
    tries = data.get("t")
    if tries is not None and not (_is_int(tries) and 0 <= tries <= MAX_TRIES):
        return f"field 't' (try count) is {_shown(tries)}, not null or an int up to {MAX_TRIES}"
    enqueued = data.get("et")
    if not (_is_int(enqueued) and 0 <= enqueued <= MAX_TIME_MS):
        return f"field 'et' (enqueue time) is {_shown(enqueued)}, not milliseconds since 1970"
    return None


MAX_TRIES = 1_000_000
"""Largest try count a job may carry."""
MAX_TIME_MS = 253_402_300_799_999
"""The last millisecond of year 9999, the largest time a Python ``datetime`` holds."""


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return repr(value)[:80]


def _exception_to_json(value: object) -> dict[str, str]:
    if isinstance(value, BaseException):
        return describe_error(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def script_arguments(
    jobs: Sequence[ArqJob], *, now_ns: int | None = None, first: int = 0
) -> tuple[list[str], list[Any]]:
    """KEYS and ARGV of :data:`ENQUEUE_SCRIPT` for ``jobs``, stamped with the current time.

    A batch written in several calls gives each the batch's time (``now_ns``) and the index of
    its first job in the batch (``first``): the jobs' scores then follow the batch's order.
    """
    if now_ns is None:
        now_ns = time.time_ns()
    now_ms = now_ns // 1_000_000
    now_us = now_ns // 1000
    keys: list[str] = []
    argv: list[Any] = []
    runs: list[list[Any]] = []  # [queue, expiry, count]
    for index, job in enumerate(jobs, first):
        job_id, defer_ms = job.job_id, job.defer_ms
        keys += [job_key_prefix + job_id, result_key_prefix + job_id]
        expiry = defer_ms + expires_extra_ms
        if runs and runs[-1][0] == job.queue and runs[-1][1] == expiry:
            runs[-1][2] += 1
        else:
            runs.append([job.queue, expiry, 1])
        # arq orders jobs with equal scores (whole milliseconds) by their random ids. Scores
        # with microseconds, one more per job of a batch, keep jobs in the order they were sent.
        score = (now_us + index) / 1000 + defer_ms
        argv += [job_id, repr(score), _serialized(job, now_ms)]
    keys += [queue for queue, _, _ in runs]
    head = [len(runs), *(value for _, expiry, count in runs for value in (count, expiry))]
    return keys, head + argv


def _serialized(job: ArqJob, now_ms: int) -> str | bytes:
    """The job's JSON, as arq's ``enqueue_job`` writes it (no try yet)."""
    if job.encoded is not None:
        # The same object serialize_job makes, from JSON texts that need no encoding.
        args, kwargs = job.encoded
        return f'{_job_head(job.function)}{args},"k":{kwargs},"et":{now_ms}}}'
    try:
        return serialize_job(
            job.function, tuple(job.args), job.kwargs, None, now_ms, serializer=dumps
        )
    except ArqSerializationError as exc:
        raise SerializationError(f"arq job {job.function!r} cannot be encoded: {exc}") from exc


@functools.lru_cache(maxsize=4096)
def _job_head(function: str) -> str:
    """A job's JSON up to its ``args``, which follow: the same for every job of ``function``."""
    return f'{{"t":null,"f":{json.dumps(function)},"a":'


def status_keys(job_id: str) -> tuple[str, str, str]:
    """The keys whose contents decide a job's status: result, in-progress, job."""
    return result_key_prefix + job_id, in_progress_key_prefix + job_id, job_key_prefix + job_id


def status_from(result: bytes | None, in_progress: bool, queued: bool) -> TaskStatus:
    """A job's status from its result (raw), in-progress marker and job key.

    A job between two attempts has its job key and no in-progress key: it is ``READY``.
    """
    if result is not None:
        return TaskStatus.SUCCESSFUL if loads(result).get("s") else TaskStatus.FAILED
    if in_progress:
        return TaskStatus.RUNNING
    return TaskStatus.READY if queued else TaskStatus.UNKNOWN
