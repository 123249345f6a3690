"""The relay: moves outbox rows to their broker in ``id`` order, at least once, then deletes them.

Each batch is one PostgreSQL transaction: one ``DELETE ... WHERE id = ANY(ARRAY(SELECT ...
FOR UPDATE SKIP LOCKED)) RETURNING`` takes up to ``OUTBOX_BATCH_SIZE`` rows (relays running side
by side take different rows), the backends enqueue them, and the transaction commits only then:
the rows leave the outbox in the same transaction as they reach the broker. A relay that dies
after the broker took a batch and before the commit leaves the rows for the next one, which
publishes them again under the same job ids: ARQ keeps one job per id, and Celery workers run
one publication per id (see :mod:`bgmigrate.adapters.celery.once`). A broker that refuses a
batch rolls it back; the rows wait and the relay tries again.

While a full batch is published, the next one is already being taken on a second connection
(sent in pipeline mode, it runs in PostgreSQL meanwhile): the broker's and the database's work
overlap when there is a backlog. The batch taken ahead is published only after the one before
it committed, and rolled back with it when it fails, so the order stays the rows' ``id`` order.

A row that cannot become a job (its task is not registered here, its options are invalid) gets
its ``error`` column set and is skipped from then on; nothing is deleted unrelayed.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any

import psycopg
from psycopg import sql

from bgmigrate.adapters.celery.once import once_store_url
from bgmigrate.backend import Job, new_job_id
from bgmigrate.errors import BgmigrateError, ConfigError, EnqueueError
from bgmigrate.outbox.table import row_job
from bgmigrate.runtime import Runtime
from bgmigrate.settings import Settings
from bgmigrate.urls import libpq_url, redact_url

logger = logging.getLogger("bgmigrate.outbox")

_COLUMNS = (
    # The payload's parts as text: they go to the broker as they are, never decoded here.
    # NULLIF: most rows keep their task's options, and '{}' need not be parsed for them.
    "id, job_id, task, backend, (payload->'args')::text, (payload->'kwargs')::text, "
    "NULLIF(options, '{{}}')"
)
_OLDEST = "SELECT id FROM {} WHERE error IS NULL ORDER BY id LIMIT %s FOR UPDATE SKIP LOCKED"
_TAKE = f"DELETE FROM {{}} WHERE id = ANY(ARRAY({_OLDEST})) RETURNING {_COLUMNS}"
"""One round trip takes a batch: its rows are locked and deleted, uncommitted until the
brokers have them (a rollback puts them back)."""
_SELECT = f"SELECT {_COLUMNS} FROM {{}} WHERE id = ANY(ARRAY({_OLDEST})) ORDER BY id"
_DELETE = "DELETE FROM {} WHERE id = ANY(%s)"
_REFUSE = "UPDATE {} SET error = %s WHERE id = %s"
MAX_BACKOFF = 5.0
"""Longest wait, in seconds, between two attempts while the database or the broker is down."""


def table_identifier(name: str) -> sql.Identifier:
    """``name`` (``table`` or ``schema.table``) as a quoted SQL identifier."""
    return sql.Identifier(*name.split("."))


def connect(url: str, *, autocommit: bool = True) -> psycopg.Connection[Any]:
    """A psycopg connection to the outbox database at ``url`` (autocommit unless told)."""
    return psycopg.connect(libpq_url(url), autocommit=autocommit, connect_timeout=5)


class Relay:
    """Moves outbox rows to the brokers their tasks were routed to (see the module docs)."""

    def __init__(self, settings: Settings, runtime: Runtime | None = None) -> None:
        if settings.outbox_url is None:
            raise ConfigError(
                "BGMIGRATE_OUTBOX_URL is not set: point it at the PostgreSQL database that holds "
                "the outbox table, e.g. postgresql://app@127.0.0.1:5432/app"
            )
        self.settings = settings
        self._url = settings.outbox_url
        self._runtime = runtime or Runtime(settings)
        # Two connections: a batch is published and committed on one while the next is taken
        # on the other. Neither autocommits: a batch's transaction spans two calls when it was
        # taken ahead.
        self._conns: list[psycopg.Connection[Any] | None] = [None, None]
        self._current = 0
        """Index of the connection whose transaction holds the next batch to publish."""
        self._ahead: list[Any] | None = None
        """That batch's rows when it was taken ahead (locked and deleted, uncommitted)."""
        table = table_identifier(settings.outbox_table)
        self._take, self._select = (
            sql.SQL(query).format(table, table) for query in (_TAKE, _SELECT)
        )
        self._delete, self._refuse = (sql.SQL(query).format(table) for query in (_DELETE, _REFUSE))

    def close(self) -> None:
        """Close the database connections (a batch taken ahead goes back to the outbox) and
        the brokers' clients."""
        self._ahead = None
        for index in range(len(self._conns)):
            self._close_connection(index)
        asyncio.run(self._runtime.close())

    def _close_connection(self, index: int) -> None:
        conn, self._conns[index] = self._conns[index], None
        if conn is not None:
            conn.close()  # an open transaction is rolled back

    def _connection(self, index: int) -> psycopg.Connection[Any]:
        conn = self._conns[index]
        if conn is None or conn.closed:
            conn = self._conns[index] = connect(self._url, autocommit=False)
        return conn

    def relay_batch(self) -> int:
        """Move one batch to the brokers; the number of rows it took off the outbox.

        A batch is taken and deleted in one statement and committed once the brokers have it;
        when it is full, the next batch is taken meanwhile on the other connection, ready for
        the next call. A batch with a row that cannot become a job is rolled back and taken
        again the careful way: selected, its bad rows marked, the others published and deleted.
        Whatever fails rolls back both connections' batches: their rows wait in the outbox.
        """
        size = self.settings.outbox_batch_size
        rows, self._ahead = self._ahead, None
        try:
            conn = self._conns[self._current]
            if rows is None or conn is None or conn.closed:
                # Nothing was taken ahead, or its connection was lost (and with it, the batch).
                conn = self._connection(self._current)
                rows = conn.execute(self._take, (size,)).fetchall()
            rows.sort()  # RETURNING follows no order; ids are unique, and rows go in id order
            groups, refused = self._jobs(rows)
            if refused:
                conn.rollback()  # nothing was published: the rows are back, unlocked
                return self._relay_carefully(conn, size)
            if len(rows) < size:  # no backlog: the next batch is taken when it is due
                self._publish(groups)
                conn.commit()
                return len(rows)
            other = self._connection(1 - self._current)
            with other.pipeline():
                ahead = other.execute(self._take, (size,))  # PostgreSQL runs it meanwhile
                self._publish(groups)
                conn.commit()
                taken = ahead.fetchall()
        except BaseException:
            self._roll_back()
            raise
        self._ahead, self._current = taken, 1 - self._current
        return len(rows)

    def _relay_carefully(self, conn: psycopg.Connection[Any], size: int) -> int:
        rows = conn.execute(self._select, (size,)).fetchall()
        groups, refused = self._jobs(rows)
        for row_id, (what, error) in refused.items():
            logger.error("%s cannot be relayed: %s", what, error)
            conn.execute(self._refuse, (error, row_id))
        self._publish(groups)
        conn.execute(self._delete, ([row[0] for row in rows if row[0] not in refused],))
        conn.commit()
        return len(rows)

    def _roll_back(self) -> None:
        """Roll back both connections' transactions; close a connection that cannot (it was
        lost: the server rolled back what it held)."""
        for index, conn in enumerate(self._conns):
            if conn is None:
                continue
            try:
                conn.rollback()
            except psycopg.Error:
                self._close_connection(index)

    def _jobs(self, rows: Sequence[Any]) -> tuple[dict[str, list[Job]], dict[int, tuple[str, str]]]:
        """The rows' jobs by backend, and what and why of the rows that cannot become jobs."""
        groups: dict[str, list[Job]] = {}
        refused: dict[int, tuple[str, str]] = {}
        # New for each publication of a batch: a second publication is told apart from a
        # re-delivery of the first (job ids keep the jobs of one batch apart).
        publish_id = new_job_id()
        for row_id, job_id, task, backend, args, kwargs, options in rows:
            try:
                job = row_job(job_id, task, (args, kwargs), options, publish_id)
            except (BgmigrateError, ValueError, TypeError) as exc:  # a bad row, not an outage
                refused[row_id] = (f"outbox row {row_id} (job {job_id}, {task})", str(exc))
                continue
            groups.setdefault(backend, []).append(job)
        return groups, refused

    def _publish(self, groups: dict[str, list[Job]]) -> None:
        for name, jobs in groups.items():
            self._runtime.backend(name).relay(jobs)

    def check(self) -> None:
        """Fail (``ConfigError``) if a relayed job could run twice: Celery needs Redis for that."""
        names = {self.settings.backend, *self.settings.routes.values()}
        if "celery" in names and once_store_url(self.settings) is None:
            raise ConfigError(
                "the relay publishes to Celery, whose workers tell a second publication of a job "
                "apart in Redis: set BGMIGRATE_RESULT_URL=redis://... (your broker is not Redis)"
            )

    def run(self, stop: threading.Event) -> None:
        """Relay until ``stop`` is set, waiting out database and broker outages."""
        self.check()
        backoff = self.settings.outbox_poll_interval
        while not stop.is_set():
            try:
                taken = self.relay_batch()
            except (EnqueueError, psycopg.OperationalError) as exc:
                logger.warning("outbox relay: %s; trying again in %.1f s", _describe(exc), backoff)
                stop.wait(backoff)
                backoff = min(backoff * 2, MAX_BACKOFF)
                continue
            backoff = self.settings.outbox_poll_interval
            if taken < self.settings.outbox_batch_size:
                stop.wait(self.settings.outbox_poll_interval)


def _describe(exc: Exception) -> str:
    if isinstance(exc, psycopg.OperationalError):
        return f"the outbox database is unreachable ({redact_url(str(exc).strip())})"
    return str(exc)
