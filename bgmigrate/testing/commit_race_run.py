"""Drive the commit race app (:mod:`bgmigrate.testing.commit_race`) and count what happened.

:func:`run_requests` sends requests to one placement, optionally stopping the broker for a
while in the middle; :func:`tally` then compares the rows committed with the jobs that ran.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field

import redis
from arq.constants import default_queue_name, in_progress_key_prefix
from fastapi.testclient import TestClient

from bgmigrate.adapters.celery.app_factory import DEFAULT_QUEUE
from bgmigrate.runtime import get_runtime
from bgmigrate.testing import commit_race
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServer

UNACKED = "unacked"
"""kombu's Redis hash of messages delivered to a worker and not acknowledged yet."""
WORKER_ENV = {"BGMIGRATE_TASK_MODULES": commit_race.__name__}
"""Worker settings the race needs (besides the backend, broker and results Redis)."""

EXPECTED_STATUSES = (200, 500, 503)
"""Done, a commit that failed, tasks refused by the broker: anything else is a broken run."""


@dataclass(frozen=True)
class Outage:
    """Stop ``broker`` after ``after`` requests and start it again ``seconds`` later."""

    broker: RedisServer
    after: int
    seconds: float


@dataclass
class Run:
    """The requests sent to one placement: their rows, log and response statuses."""

    placement: str
    log: str = field(default_factory=lambda: f"commit-race:{uuid.uuid4().hex}")
    rows: list[str] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class Tally:
    """What a run left behind once every job had run."""

    requests: int
    refused: int
    """Responses ``503``."""
    rows: int
    """Rows committed."""
    jobs: int
    """Jobs that ran."""
    early: int
    """Jobs that ran before their row was visible (the row was committed after)."""
    rows_without_jobs: int
    jobs_without_rows: int
    """Jobs that ran for a row that was never committed."""


def run_requests(
    client: TestClient,
    placement: str,
    count: int,
    *,
    fail_every: int = 0,
    outage: Outage | None = None,
) -> Run:
    """Send ``count`` requests to ``placement`` (more if the outage is not over by then: the
    broker comes back while requests continue); every ``fail_every``-th one's commit fails."""
    run = Run(placement)
    back_at = None
    while len(run.rows) < count or back_at is not None:
        index = len(run.rows)
        if outage is not None and index == outage.after:
            outage.broker.stop()
            back_at = time.monotonic() + outage.seconds
        if back_at is not None and time.monotonic() >= back_at:
            assert outage is not None
            outage.broker.start()
            back_at = outage = None
        row = uuid.uuid4().hex
        fail = bool(fail_every) and index % fail_every == fail_every - 1
        params = {"row": row, "log": run.log, "fail": str(fail).lower()}
        response = client.post(f"/{placement}", params=params)
        if response.status_code not in EXPECTED_STATUSES:
            raise AssertionError(f"POST /{placement}: {response.status_code} {response.text}")
        run.rows.append(row)
        run.statuses.append(response.status_code)
    return run


def waiting(broker: RedisServer, backend: str) -> tuple[int, int]:
    """Jobs waiting in ``broker``'s default queue, and jobs held by a worker that lost the
    broker while it had them: Celery's unacknowledged messages (handed out again after the
    visibility timeout, once a worker starts) and arq's jobs marked in progress (run again
    once the mark expires)."""
    with redis.Redis.from_url(broker.url) as client:
        if backend == "celery":
            return int(client.llen(DEFAULT_QUEUE)), int(client.hlen(UNACKED))
        held = len(client.keys(f"{in_progress_key_prefix}*"))
        return int(client.zcard(default_queue_name)) - held, held


def settle(
    run: Run, broker: RedisServer, backend: str, quiet: float = 3.0, timeout: float = 300.0
) -> None:
    """Wait until the spool and the queue are empty and no job has reported for ``quiet`` s."""
    seen = {"count": -1, "since": time.monotonic()}

    def quiet_now() -> bool:
        count = len(commit_race.read_results(run.log))
        busy = len(get_runtime().spool) or waiting(broker, backend)[0]
        if count != seen["count"] or busy:
            seen.update(count=count, since=time.monotonic())
            return False
        return time.monotonic() - seen["since"] >= quiet

    wait_until(quiet_now, timeout=timeout, interval=0.2, what=f"the jobs of {run.placement}")


def tally(db_url: str, run: Run) -> Tally:
    """Compare the rows ``run`` committed with the jobs that ran for it."""
    results = commit_race.read_results(run.log)
    committed = commit_race.committed_rows(db_url, run.rows)
    ran = {row for row, _seen in results}
    return Tally(
        requests=len(run.rows),
        refused=run.statuses.count(503),
        rows=len(committed),
        jobs=len(results),
        early=sum(1 for row, seen in results if not seen and row in committed),
        rows_without_jobs=len(committed - ran),
        jobs_without_rows=len(ran - committed),
    )
