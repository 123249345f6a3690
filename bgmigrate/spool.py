"""The after-commit spool: jobs whose transaction committed, published from a thread of its own.

A job held by ``tasks.after_commit(session)`` is published when its transaction commits, which
may be after the response: a broker failure can no longer become a ``503``. The spool keeps
such jobs in memory, in order, and retries them while their broker refuses them, for up to
``BGMIGRATE_AFTER_COMMIT_RETRY_TIMEOUT`` seconds and at most ``BGMIGRATE_AFTER_COMMIT_SPOOL_MAX``
jobs. A job it gives up on is logged at ``ERROR`` with its task name, id and arguments, never
dropped silently. The spool is not durable: a process that dies loses what it holds (the
PostgreSQL outbox is the mode that survives that).
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from bgmigrate.backend import Job, TaskBackend

logger = logging.getLogger("bgmigrate")

FIRST_RETRY_DELAY = 0.1
"""Seconds before the first retry of a refused publish; doubled on each refusal after."""
MAX_RETRY_DELAY = 2.0
"""The longest wait between two retries."""
LOGGED_ARGUMENTS = 1000
"""Characters of a lost job's encoded arguments written to the log (enough to re-enqueue it)."""


@dataclass(eq=False)
class _Entry:
    backend: TaskBackend
    jobs: list[Job]
    since: float = field(default_factory=time.monotonic)
    refusals: int = 0


def log_lost(jobs: Sequence[Job], reason: str) -> None:
    """Log each job of ``jobs`` at ``ERROR`` as committed but not enqueued, with ``reason``."""
    for job in jobs:
        arguments = str(job.payload)[:LOGGED_ARGUMENTS]
        logger.error(
            "task %s (job %s) was committed but NOT enqueued: %s; its arguments: %s",
            job.task.name,
            job.id,
            reason,
            arguments,
        )


class Spool:
    """Publishes committed jobs in order from a daemon thread, retrying while brokers refuse.

    ``max_jobs`` bounds the jobs held at once (a job over it is logged as lost at once);
    ``retry_for`` bounds, in seconds, how long a refused job is retried.
    """

    def __init__(self, *, max_jobs: int, retry_for: float) -> None:
        self._max_jobs = max_jobs
        self._retry_for = retry_for
        self._entries: deque[_Entry] = deque()
        self._held = 0
        self._thread: threading.Thread | None = None
        # Guards the entries and the thread; notified when an entry is added or removed.
        self._changed = threading.Condition()

    def __len__(self) -> int:
        """The number of jobs waiting to be published."""
        with self._changed:
            return self._held

    def put(self, backend: TaskBackend, jobs: Sequence[Job]) -> None:
        """Publish ``jobs`` to ``backend`` soon, in order, after the jobs put before them."""
        with self._changed:
            if self._held + len(jobs) > self._max_jobs:
                full = f"the spool holds {self._held} jobs (BGMIGRATE_AFTER_COMMIT_SPOOL_MAX)"
                log_lost(jobs, full)
                return
            self._entries.append(_Entry(backend, list(jobs)))
            self._held += len(jobs)
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="bgmigrate-after-commit", daemon=True
                )
                self._thread.start()
            self._changed.notify_all()

    def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for every job to be published; log the rest as lost."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while self._entries and (left := deadline - time.monotonic()) > 0:
                self._changed.wait(left)
            lost = [job for entry in self._entries for job in entry.jobs]
            self._entries.clear()
            self._held = 0
            self._changed.notify_all()
        if lost:
            log_lost(lost, f"the process stopped with them in the spool (after {timeout} s)")

    def _run(self) -> None:
        delay = FIRST_RETRY_DELAY
        while (entry := self._next()) is not None:
            try:
                entry.backend.enqueue(entry.jobs)
            except Exception as exc:  # every failure is retried, then logged with its jobs
                if time.monotonic() - entry.since >= self._retry_for:
                    if self._remove(entry):
                        log_lost(entry.jobs, f"{exc} (retried for {self._retry_for} s)")
                    continue
                self._refused(entry, exc, delay)
                delay = min(delay * 2, MAX_RETRY_DELAY)
                continue
            self._remove(entry)
            delay = FIRST_RETRY_DELAY

    def _next(self) -> _Entry | None:
        """The oldest entry, or ``None`` (and the thread ends) when there is none."""
        with self._changed:
            if not self._entries:
                self._thread = None
                return None
            return self._entries[0]

    def _remove(self, entry: _Entry) -> bool:
        """Take ``entry`` off the spool; ``False`` if drain() took it (and logged it) first."""
        with self._changed:
            held = bool(self._entries) and self._entries[0] is entry
            if held:
                self._entries.popleft()
                self._held -= len(entry.jobs)
            self._changed.notify_all()
            return held

    def _refused(self, entry: _Entry, exc: Exception, delay: float) -> None:
        """Log the first refusal of ``entry``, then wait ``delay`` s (or until drain clears it).

        Nothing is said of an entry that drain() took while its publish was under way: drain
        has logged it as lost."""
        with self._changed:
            if not self._entries or self._entries[0] is not entry:
                return
            entry.refusals += 1
            if entry.refusals == 1:
                names = ", ".join(job.task.name for job in entry.jobs)
                logger.warning(
                    "committed tasks %s not enqueued yet (%s); retrying for up to %s s",
                    names,
                    exc,
                    self._retry_for,
                )
            self._changed.wait(delay)
