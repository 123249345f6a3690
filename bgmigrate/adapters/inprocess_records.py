"""What the in-process backend knows of its jobs: status, outcome and idempotency keys.

Request handlers, the event loop and callers waiting on a ``TaskHandle`` read and write these
records from different threads, so every access holds one condition, notified whenever a job
finishes.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from bgmigrate.backend import Job, TaskStatus
from bgmigrate.errors import UnknownJobError

#: Finished records kept for ``status``/``result`` (oldest dropped first).
MAX_FINISHED_RECORDS = 10_000


@dataclass(eq=False, slots=True)
class JobRecord:
    """What this process knows of one job; kept small, since up to 10,000 are kept."""

    name: str
    job: Job | None  # dropped once finished: the arguments need not outlive the run
    status: TaskStatus = TaskStatus.READY
    result: Any = None
    error: BaseException | None = None
    accepted_at: float = field(default_factory=time.monotonic)
    started_at: float | None = None

    def outcome(self) -> Any:
        """A finished job's result, or its exception raised again."""
        if self.error is not None:
            raise self.error
        return self.result


class JobRecords:
    """The records of the jobs one in-process backend accepted."""

    def __init__(self, key_ttl: float) -> None:
        self._key_ttl = key_ttl
        self._changed = threading.Condition()
        self._active: dict[str, JobRecord] = {}
        self._finished: OrderedDict[str, JobRecord] = OrderedDict()
        # Idempotency key -> (job id, accepted at), oldest first so expired keys prune cheaply.
        self._keys: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.idle = threading.Event()
        """Set while no accepted job is unfinished."""
        self.idle.set()

    def accept(self, jobs: Sequence[Job]) -> tuple[list[str], list[Job]]:
        """Record the jobs as READY: the id each caller gets (a job whose key was seen gets the
        earlier job's id), and the jobs to run."""
        ids, accepted = [], []
        now = time.monotonic()
        with self._changed:
            self._prune_keys(now)
            for job in jobs:
                key = job.task.options.key
                seen = self._keys.get(key) if key is not None else None
                if seen is not None:
                    ids.append(seen[0])
                    continue
                if key is not None:
                    self._keys[key] = (job.id, now)
                self._active[job.id] = JobRecord(job.task.name, job)
                self.idle.clear()
                ids.append(job.id)
                accepted.append(job)
        return ids, accepted

    def _prune_keys(self, now: float) -> None:
        while self._keys:
            _, (_, accepted_at) = next(iter(self._keys.items()))
            if now - accepted_at < self._key_ttl:
                break
            self._keys.popitem(last=False)

    def set_status(self, job_id: str, status: TaskStatus) -> None:
        """Mark an unfinished job READY (between attempts) or RUNNING."""
        with self._changed:
            record = self._active.get(job_id)
            if record is not None:
                record.status = status
                if status is TaskStatus.RUNNING and record.started_at is None:
                    record.started_at = time.monotonic()

    def finish(
        self,
        job_id: str,
        status: TaskStatus,
        *,
        result: Any = None,
        error: BaseException | None = None,
    ) -> bool:
        """Record the outcome; ``False`` if the job was already finished (or dropped)."""
        with self._changed:
            record = self._active.pop(job_id, None)
            if record is None:
                return False
            record.status, record.result, record.error = status, result, error
            record.job = None
            self._finished[job_id] = record
            while len(self._finished) > MAX_FINISHED_RECORDS:
                self._finished.popitem(last=False)
            if not self._active:
                self.idle.set()
            self._changed.notify_all()
        return True

    def get(self, job_id: str) -> JobRecord | None:
        """The job's record, or ``None`` if this process never saw it (or forgot it)."""
        with self._changed:
            return self._active.get(job_id) or self._finished.get(job_id)

    def known(self, job_id: str) -> JobRecord:
        """The job's record; ``UnknownJobError`` if there is none."""
        record = self.get(job_id)
        if record is None:
            raise UnknownJobError(f"no in-process task with id {job_id!r} is known")
        return record

    def wait(self, record: JobRecord, timeout: float | None) -> bool:
        """Block until ``record`` is finished; ``False`` if ``timeout`` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: record.status.finished, timeout)

    def unfinished(self) -> list[JobRecord]:
        """The records of jobs accepted and not finished yet."""
        with self._changed:
            return list(self._active.values())
