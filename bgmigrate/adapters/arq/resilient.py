"""arq's ``Worker``, made to survive what a queue can hold and what Redis can do.

arq trusts every job it reads: a field of the wrong type or a queue score of ``-inf`` raises
inside its polling loop and the worker exits — and since the job stays queued, every restart
exits again. It also exits when Redis goes away for a moment. :class:`ResilientWorker`
validates each job before arq acts on it, refuses a malformed one once (logged, moved to the
dead-letter list, failed result stored), and rides out a Redis outage with a bounded backoff.
``bgmigrate worker --backend arq`` runs it; the native ``arq`` command runs arq's own worker,
which gets the field checks (through the job deserializer) but neither the score check nor
the reconnection.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from typing import Any

import redis
from arq.constants import in_progress_key_prefix, job_key_prefix
from arq.jobs import serialize_result
from arq.utils import timestamp_ms
from arq.worker import Worker

from bgmigrate.adapters.arq.wire import job_problem, loads
from bgmigrate.adapters.dead_letter import astore, dead_letter
from bgmigrate.errors import SerializationError

logger = logging.getLogger("bgmigrate.arq")

BROKER_DOWN = (redis.ConnectionError, redis.TimeoutError, OSError)
"""Errors that mean Redis is unreachable (the job is not at fault)."""
FIRST_BACKOFF = 0.5
"""Seconds before the first reconnection attempt; doubled after each failure..."""
MAX_BACKOFF = 5.0
"""...up to this many seconds between attempts."""


class ResilientWorker(Worker):
    """An arq ``Worker`` that refuses malformed jobs and outlives Redis outages."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._failures = 0
        self._down_since = 0.0

    async def _poll_iteration(self) -> None:
        try:
            await super()._poll_iteration()
        except BROKER_DOWN as exc:
            await self._wait_for_redis(exc)
        else:
            if self._failures:
                down = time.monotonic() - self._down_since
                logger.warning("Redis is reachable again after %.1f s; polling resumed", down)
                self._failures = 0

    async def _wait_for_redis(self, exc: BaseException) -> None:
        if not self._failures:
            self._down_since = time.monotonic()
        delay = min(MAX_BACKOFF, FIRST_BACKOFF * 2**self._failures)
        self._failures += 1
        logger.warning(
            "Redis is unreachable (%s: %s); retrying in %.1f s", type(exc).__name__, exc, delay
        )
        await asyncio.sleep(delay)

    async def start_jobs(self, job_ids: list[bytes]) -> None:
        """Refuse jobs whose queue score arq cannot handle (``-inf``), then start the rest, up
        to the free slots.

        arq's own loop takes a slot for a job before it reads the job's in-progress mark and
        gives the slot back only if the job turns out taken or a task was started for it: when
        Redis goes away in between, the slot stays taken until the worker stops, and the worker
        runs fewer jobs at once for good (none once every slot is lost). Here a slot that did
        not become a running job is given back whatever happened.
        """
        if job_ids:
            scores = await self.pool.zmscore(self.queue_name, job_ids)  # type: ignore[arg-type]
            for job_id, score in zip(job_ids, scores, strict=True):
                if score is not None and not math.isfinite(score):
                    raw = await self.pool.get(job_key_prefix + job_id.decode())
                    await self._refuse(job_id.decode(), f"its queue score is {score}", raw)
            job_ids = [
                job_id
                for job_id, score in zip(job_ids, scores, strict=True)
                if score is None or math.isfinite(score)
            ]
        for job_id in job_ids:
            await self.sem.acquire()
            if self.job_counter >= self.max_jobs:
                self.sem.release()
                return
            self.job_counter += 1
            started = False
            try:
                started = await self._start_job(job_id.decode())
            finally:
                if not started:
                    self._release_sem_dec_counter_on_complete()

    async def _start_job(self, job_id: str) -> bool:
        """Mark ``job_id`` in progress and start it in a task that frees its slot when done;
        ``False`` if it is running elsewhere, gone, or not due yet (arq's checks)."""
        in_progress_key = in_progress_key_prefix + job_id
        async with self.pool.pipeline(transaction=True) as pipe:
            await pipe.watch(in_progress_key)
            try:
                ongoing_exists = await pipe.exists(in_progress_key)
                score = await pipe.zscore(self.queue_name, job_id)
            except redis.WatchError as exc:  # redis-py's word for a connection lost meanwhile
                raise redis.ConnectionError(f"Redis went away while starting job {job_id}") from exc
            if ongoing_exists or not score or score > timestamp_ms():
                logger.debug("job %s already running elsewhere", job_id)
                return False
            pipe.multi()  # type: ignore[no-untyped-call]
            pipe.psetex(in_progress_key, int(self.in_progress_timeout_s * 1000), b"1")
            try:
                await pipe.execute()
            except (redis.ResponseError, redis.WatchError):
                logger.debug("multi-exec error, job %s already started elsewhere", job_id)
                return False
        task = self.loop.create_task(self.run_job(job_id, int(score)))
        task.add_done_callback(lambda _: self._release_sem_dec_counter_on_complete())
        self.tasks[job_id] = task
        return True

    async def run_job(self, job_id: str, score: int) -> None:
        """Check the job's fields before arq reads them; refuse it if arq fails on it anyway."""
        raw = await self.pool.get(job_key_prefix + job_id)
        problem = None if raw is None else _problem(raw)
        if problem is not None:
            await self._refuse(job_id, problem, raw)
            return
        try:
            await super().run_job(job_id, score)
        except BROKER_DOWN:
            raise
        except Exception as exc:  # anything else arq raised about this job must not stop us
            await self._refuse(job_id, f"arq failed on it: {exc!r}", raw)

    async def _refuse(self, job_id: str, reason: str, raw: bytes | None) -> None:
        """Log the job, keep it in the dead-letter list, and end it as failed."""
        await astore(
            self.pool, dead_letter("arq", self.queue_name, f"job {job_id}: {reason}", raw or b"")
        )
        self.jobs_failed += 1
        now = int(time.time() * 1000)
        failure = SerializationError(f"malformed job refused by the worker: {reason}")
        result = serialize_result(
            "<malformed>",
            (),
            {},
            1,
            now,
            False,
            failure,
            now,
            now,
            job_id,
            self.queue_name,
            job_id=job_id,
            serializer=self.job_serializer,
        )
        await self.finish_failed_job(job_id, result)


def _problem(raw: bytes) -> str | None:
    try:
        return job_problem(loads(raw))
    except (ValueError, RecursionError) as exc:
        return f"not JSON ({exc})"
