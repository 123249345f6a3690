"""Outbox fault scenarios on real parts, shared by the tests and ``bench/outbox_faults.py``.

A :class:`Rig` is the outbox app served by uvicorn in a subprocess, a ``bgmigrate relay`` and
a worker (Celery or ARQ) in subprocesses, a PostgreSQL database and a Redis broker (private
servers, so that a scenario may kill or stop them) and the Redis list the task writes to.
Requests stream in while a scenario breaks one part; then :meth:`Rig.settle` waits until the
outbox and the queue are empty and :meth:`Rig.tally` compares the jobs that ran with the
orders the database committed: every committed order must have run once, no other job at all.
"""

from __future__ import annotations

import re
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
import redis
from sqlalchemy import insert
from sqlalchemy.orm import Session

import bgmigrate
from bgmigrate.adapters.celery.app_factory import DEFAULT_QUEUE
from bgmigrate.outbox import OutboxBatch
from bgmigrate.testing.conformance_tasks import REDIS_URL_ENV
from bgmigrate.testing.outbox_app import engine, orders, ran, record
from bgmigrate.testing.polling import WaitTimeout, wait_until
from bgmigrate.testing.postgres_servers import PostgresServer
from bgmigrate.testing.redis_servers import RedisServer, free_port
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess, bgmigrate_command
from bgmigrate.urls import libpq_url

FAIL_EVERY = 5
"""Every fifth request fails after ``add_task``: its transaction rolls back."""
UNACKED = "unacked"
"""kombu's Redis hash of delivered, unacknowledged messages."""
RELAY_READY = re.compile(r"relay started")
HOLD_COMMITS = """
CREATE FUNCTION bgmigrate_hold_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('bgmigrate.held', true) IS DISTINCT FROM 'yes' THEN
    PERFORM set_config('bgmigrate.held', 'yes', true);
    PERFORM pg_sleep(60);
  END IF;
  RETURN NULL;
END $$;
CREATE CONSTRAINT TRIGGER bgmigrate_hold_commit AFTER DELETE ON bgmigrate_outbox
DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION bgmigrate_hold_commit();
"""
"""Holds the commit of a transaction that deleted outbox rows (a relay's batch, published by
then) for up to a minute: the moment to kill the relay."""
HELD = (
    "SELECT pid FROM pg_stat_activity WHERE wait_event = 'PgSleep' AND datname = current_database()"
)
"""The server processes whose commit :data:`HOLD_COMMITS` holds."""
RELEASE_COMMITS = """
DROP TRIGGER bgmigrate_hold_commit ON bgmigrate_outbox;
DROP FUNCTION bgmigrate_hold_commit();
"""
"""Undoes :data:`HOLD_COMMITS`."""
WEB_READY = re.compile(r"Application startup complete")


@dataclass(frozen=True)
class Tally:
    """What a scenario did: requests, commits, and the jobs that ran for them."""

    requests: int
    """Requests sent (answered or not)."""
    committed: int
    """Orders in the database: each must have run exactly once."""
    ran: int
    """Job executions observed."""
    lost: int
    """Committed orders whose job never ran."""
    duplicates: int
    """Executions beyond the first of one job."""
    uncommitted: int
    """Jobs that ran for an order the database does not have (rolled back or never written)."""
    answered_during_fault: int = 0
    """Requests answered ``200`` while the broken part was down."""

    @property
    def ok(self) -> bool:
        """Nothing lost, nothing run that was not committed (duplicates are counted apart:
        a worker that loses its broker mid-job runs that job again, outbox or not)."""
        return self.lost == self.uncommitted == 0


@dataclass
class RequestStream:
    """Requests posted one after another from a thread until :meth:`stop`."""

    base_url: str
    log: str
    sent: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    """HTTP status per order number (missing: no answer, the web process was gone)."""
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> RequestStream:
        """Begin posting in a background thread."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.is_set():
            n = self.sent
            fail = "?fail=true" if n % FAIL_EVERY == FAIL_EVERY - 1 else ""
            request = urllib.request.Request(
                f"{self.base_url}/orders/{self.log}/{n}{fail}", method="POST"
            )
            self.sent += 1
            try:
                with urllib.request.urlopen(request, timeout=10) as response:
                    self.statuses[n] = response.status
            except urllib.error.HTTPError as exc:
                self.statuses[n] = exc.code
            except OSError:
                pass  # the web process is gone: this request may or may not have committed

    def wait_for(self, answered: int, timeout: float = 60) -> None:
        """Wait until ``answered`` more requests have been answered ``200``."""
        goal = self.ok_count() + answered
        wait_until(
            lambda: self.ok_count() >= goal, timeout=timeout, what=f"{goal} answered requests"
        )

    def ok_count(self) -> int:
        """Requests answered ``200``."""
        return sum(status == 200 for status in list(self.statuses.values()))

    def stop(self) -> None:
        """Stop posting and wait for the last request."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)


@dataclass
class Rig:
    """The parts of one scenario (see the module docs); :meth:`close` is the factory's job."""

    backend: str
    database_url: str
    """SQLAlchemy URL of a database with the app's tables."""
    broker_url: str
    log_url: str
    """Redis that the task log lives in (it stays up)."""
    processes: WorkerFactory
    log: str = "outbox-faults"
    batch_size: int = 100
    visibility_timeout: int = 3600
    """Celery on Redis: seconds before a message held unacknowledged is delivered again."""

    @property
    def env(self) -> dict[str, str]:
        """The environment of the web process, the relay and the worker."""
        return {
            "BGMIGRATE_BACKEND": self.backend,
            "BGMIGRATE_BROKER_URL": self.broker_url,
            "BGMIGRATE_TASK_MODULES": "bgmigrate.testing.outbox_app",
            "BGMIGRATE_OUTBOX_URL": self.database_url,
            "BGMIGRATE_OUTBOX_BATCH_SIZE": str(self.batch_size),
            # ARQ: a job whose worker lost Redis mid-job runs again after this many seconds
            # (arq's default would be the longest timeout + 10 s: here, 310 s).
            "BGMIGRATE_IN_PROGRESS_TIMEOUT": "5",
            "BGMIGRATE_VISIBILITY_TIMEOUT": str(self.visibility_timeout),
            REDIS_URL_ENV: self.log_url,
        }

    def start_web(self) -> tuple[WorkerProcess, str]:
        """Serve the outbox app with uvicorn; the process and its base URL."""
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "uvicorn",
            "--factory",
            "bgmigrate.testing.outbox_app:make_app",
        ]
        argv += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "info"]
        return self.processes(argv, env=self.env, ready=WEB_READY), f"http://127.0.0.1:{port}"

    def start_relay(self) -> WorkerProcess:
        """Start ``bgmigrate relay``."""
        argv = [str(Path(sys.executable).parent / "bgmigrate"), "relay"]
        return self.processes(argv, env=self.env, ready=RELAY_READY)

    def start_worker(self) -> WorkerProcess:
        """Start ``bgmigrate worker`` (ARQ fetches at most its free slots per poll: 20 slots
        keep a backlog from waiting for polls)."""
        slots = 20 if self.backend == "arq" else 4
        return self.processes(bgmigrate_command(self.backend, concurrency=slots), env=self.env)

    def _query(self, query: str, *params: object) -> list[tuple[Any, ...]]:
        # A connection per query, not a pool: a restarted server breaks pooled connections.
        with psycopg.connect(libpq_url(self.database_url)) as conn:
            return conn.execute(query, params).fetchall()

    def _execute(self, statements: str) -> None:
        with psycopg.connect(libpq_url(self.database_url), autocommit=True) as conn:
            conn.execute(statements.encode())

    def hold_commits(self) -> None:
        """From now on, hold the commit of each transaction that deletes outbox rows (see
        :data:`HOLD_COMMITS`)."""
        self._execute(HOLD_COMMITS)

    def held_commits(self) -> list[int]:
        """The server processes whose commit is held."""
        return [int(pid) for (pid,) in self._query(HELD)]

    def release_commits(self) -> None:
        """End the processes whose commit is held (their transactions roll back, as when
        PostgreSQL notices their client gone) and hold no more."""
        for pid in self.held_commits():
            self._query("SELECT pg_terminate_backend(%s)", pid)
        self._execute(RELEASE_COMMITS)

    def outbox_rows(self) -> int:
        """Rows waiting in the outbox."""
        return int(self._query("SELECT count(*) FROM bgmigrate_outbox")[0][0])

    def committed(self) -> list[int]:
        """Order numbers the database committed."""
        return [int(row[0]) for row in self._query("SELECT n FROM orders WHERE log = %s", self.log)]

    def queued(self) -> int:
        """Messages waiting on the broker (Celery: in its queue, or delivered and not yet
        acknowledged)."""
        with redis.Redis.from_url(self.broker_url) as client:
            if self.backend == "celery":
                return int(client.llen(DEFAULT_QUEUE)) + int(client.hlen(UNACKED))
            return int(client.zcard("arq:queue"))

    def settle(self, timeout: float = 120, lost_allowed: int = 0) -> None:
        """Wait until every committed order's job has run and nothing waits anywhere.

        With ``lost_allowed``, up to that many jobs may be nowhere (not run, not in the outbox,
        not queued nor unacknowledged on the broker): lost, for the tally to count. Nothing
        waiting must then hold for a second, so that a message between the queue and its
        worker (taken off one, not yet recorded on the other) is not taken for lost.
        """
        nothing_since: list[float] = []

        def settled() -> bool:
            missing = set(self.committed()) - set(ran(self.log, self.log_url))
            waiting = self.outbox_rows() + self.queued()
            if waiting or len(missing) > lost_allowed:
                nothing_since.clear()
                return False
            if not missing:
                return True
            nothing_since[:] = nothing_since or [time.monotonic()]
            return time.monotonic() - nothing_since[0] >= 1.0

        try:
            wait_until(settled, timeout=timeout, what="every committed job to run")
        except WaitTimeout as exc:
            raise WaitTimeout(f"{exc}; {self.state()}") from exc

    def state(self) -> str:
        """Where the jobs are: committed, run, waiting in the outbox, waiting on the broker."""
        executions = set(ran(self.log, self.log_url))
        missing = sorted(set(self.committed()) - executions)
        return (
            f"committed {len(self.committed())}, ran {len(executions)}, missing {missing[:20]}, "
            f"outbox rows {self.outbox_rows()}, queued {self.queued()}"
        )

    def commit_directly(self, numbers: range) -> None:
        """Commit orders and their tasks from this process, 50 per transaction."""
        bgmigrate.configure(backend=self.backend, broker_url=self.broker_url)
        for start in range(numbers.start, numbers.stop, 50):
            with Session(engine(self.database_url)) as session:
                tasks = OutboxBatch(session)
                for n in range(start, min(start + 50, numbers.stop)):
                    session.execute(insert(orders).values(log=self.log, n=n))
                    tasks.add_task(record, self.log, n)
                session.commit()

    def tally(self, requests: int, answered_during_fault: int = 0) -> Tally:
        """Compare the jobs that ran with the committed orders."""
        committed, executions = set(self.committed()), ran(self.log, self.log_url)
        return Tally(
            requests=requests,
            committed=len(committed),
            ran=len(executions),
            lost=len(committed - set(executions)),
            duplicates=len(executions) - len(set(executions)),
            uncommitted=len(set(executions) - committed),
            answered_during_fault=answered_during_fault,
        )


def kill_web(rig: Rig, requests: int = 100) -> Tally:
    """SIGKILL the web process while requests stream in, before any relay runs."""
    web, url = rig.start_web()
    stream = RequestStream(url, rig.log).start()
    stream.wait_for(requests)
    web.kill()
    stream.stop()
    rig.start_worker()
    rig.start_relay()
    rig.settle()
    return rig.tally(stream.sent)


def kill_relay(rig: Rig, jobs: int = 3000) -> tuple[Tally, int]:
    """SIGKILL the relay between publishing a batch and committing it, while it works through
    a backlog of ``jobs``, then start another.

    The batch's commit is held in PostgreSQL (:meth:`Rig.hold_commits`) until the relay is
    killed, so that the kill always falls in that window, however fast the relay. Also returns
    how many second publications Celery workers dropped (ARQ keeps one job per id without a
    trace).
    """
    rig.commit_directly(range(jobs))
    worker = rig.start_worker()
    rig.hold_commits()
    relay = rig.start_relay()
    wait_until(rig.held_commits, timeout=60, what="the relay to commit a published batch")
    relay.kill()
    rig.release_commits()
    rig.start_relay()
    rig.settle()

    def dropped() -> int:
        return worker.log().count("published again by the outbox relay")

    if rig.backend == "celery":  # a worker may log its last drop after the queue is empty
        wait_until(
            lambda: dropped() >= rig.batch_size,
            timeout=30,
            what=f"the workers to drop the {rig.batch_size} second publications",
        )
    return rig.tally(jobs), dropped()


def restart_database(rig: Rig, server: PostgresServer, requests: int = 50) -> Tally:
    """Restart PostgreSQL (a fast shutdown) while requests stream in and the relay runs."""
    rig.start_worker()
    rig.start_relay()
    _web, url = rig.start_web()
    stream = RequestStream(url, rig.log).start()
    stream.wait_for(requests)
    server.restart()
    stream.wait_for(requests)
    stream.stop()
    rig.settle()
    return rig.tally(stream.sent)


def stop_broker(
    rig: Rig, broker: RedisServer, seconds: float, requests: int = 20, lost_allowed: int = 0
) -> Tally:
    """Stop the broker for ``seconds`` while requests stream in and the relay runs (up to
    ``lost_allowed`` jobs may be lost: see :meth:`Rig.settle`)."""
    # A Celery worker that loses its broker leaves the messages it held unacknowledged on it:
    # they are delivered again after the visibility timeout (kombu looks every ~100 s).
    rig.visibility_timeout = 15
    rig.start_worker()
    rig.start_relay()
    _web, url = rig.start_web()
    stream = RequestStream(url, rig.log).start()
    stream.wait_for(requests)
    broker.stop()
    before = stream.ok_count()
    threading.Event().wait(seconds)  # the outage itself, not a wait for something to happen
    during = stream.ok_count() - before
    broker.start()
    stream.wait_for(requests)
    stream.stop()
    rig.settle(timeout=240, lost_allowed=lost_allowed)
    return rig.tally(stream.sent, answered_during_fault=during)
