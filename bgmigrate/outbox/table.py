"""The outbox table: its DDL, and one job as a row and back.

A row is one call of a task, added by a request inside its database transaction: the task's
name, the backend it was routed to, the codec's encoded arguments and the options that differ
from the registered task's. Rows are relayed in ``id`` order and deleted once the broker has
them; a row the relay cannot turn back into a job keeps its ``error`` and stays.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, Column, DateTime, MetaData, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB

from bgmigrate.adapters.call_options import FIELD, changed_options, with_call_options
from bgmigrate.backend import Job, TaskBackend
from bgmigrate.codec import EncodedCall
from bgmigrate.errors import ConfigError
from bgmigrate.registry import registry
from bgmigrate.settings import check_table_name
from bgmigrate.task import Task

DEFAULT_TABLE = "bgmigrate_outbox"
"""The table's name unless ``BGMIGRATE_OUTBOX_TABLE`` says otherwise."""

DDL = """\
CREATE TABLE IF NOT EXISTS {table} (
    id bigserial PRIMARY KEY,
    job_id text NOT NULL,
    task text NOT NULL,
    backend text NOT NULL,
    payload jsonb NOT NULL,
    options jsonb NOT NULL DEFAULT '{{}}',
    created_at timestamptz NOT NULL DEFAULT now(),
    error text
);
"""
"""The table, as ``bgmigrate outbox init`` creates it and ``bgmigrate outbox ddl`` prints it."""


def ddl(name: str = DEFAULT_TABLE) -> str:
    """The ``CREATE TABLE`` statement of the outbox table called ``name``."""
    return DDL.format(table=check_table_name(name))


@functools.cache
def table(name: str = DEFAULT_TABLE) -> Table:
    """The outbox table as SQLAlchemy Core sees it (for inserts on the request's session)."""
    schema, _, bare = check_table_name(name).rpartition(".")
    return Table(
        bare,
        MetaData(),
        Column("id", BigInteger, primary_key=True),
        Column("job_id", Text, nullable=False),
        Column("task", Text, nullable=False),
        Column("backend", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("options", JSONB, nullable=False),
        Column("created_at", DateTime(timezone=True), server_default=func.now()),
        Column("error", Text),
        schema=schema or None,
    )


def job_row(backend_name: str, job: Job) -> dict[str, Any]:
    """The row that stands for ``job``, routed to the backend called ``backend_name``.

    A relative ``delay`` becomes an absolute due time now, so that time spent in the outbox
    counts towards it.
    """
    options = job.task.options
    stored: dict[str, Any] = {
        name: value
        for name, value in (("queue", options.queue), ("priority", options.priority))
        if value is not None
    }
    if options.key is not None:
        stored["key"] = options.key
    due = options.run_after
    if options.delay is not None:
        due = datetime.now(UTC) + timedelta(seconds=options.delay)
    if due is not None:
        stored["run_after"] = due.isoformat()
    changed = changed_options(job.task)
    if changed:
        stored["call"] = changed
    return {
        "job_id": job.id,
        "task": job.task.name,
        "backend": backend_name,
        "payload": job.payload,
        "options": stored,
    }


def row_job(
    job_id: str,
    task_name: str,
    call: tuple[str | None, str | None],
    stored: Mapping[str, Any] | None,
    publish_id: str,
) -> Job:
    """The job a row stands for, to be published as ``publish_id``; a ``BgmigrateError`` if it
    cannot be rebuilt (its task is not registered in this process, its options are invalid),
    a ``ValueError`` if its payload is not ``{"args": [...], "kwargs": {...}}``.

    ``call`` is the payload's ``args`` and ``kwargs`` as PostgreSQL prints them (JSON text,
    ``None`` where missing): they reach the broker as they are, never decoded here.
    """
    args, kwargs = call
    if not (args and args[0] == "[" and kwargs and kwargs[0] == "{"):
        raise ValueError(f"its payload is not an args array and a kwargs object: {call!r:.200}")
    task = registry.get(task_name)
    if stored:  # most rows use the registered task as it is: no copies for them
        task = _with_stored_options(task, stored)
    return Job(
        task=task,
        args=(),
        kwargs={},
        encoded=EncodedCall(args, kwargs),
        id=job_id,
        publish_id=publish_id,
    )


def _with_stored_options(task: Task[Any, Any], stored: Mapping[str, Any]) -> Task[Any, Any]:
    task, _ = with_call_options(task, {FIELD: stored.get("call")})
    run_after = stored.get("run_after")
    options = dataclasses.replace(
        task.options,
        queue=stored.get("queue", task.options.queue),
        priority=stored.get("priority", task.options.priority),
        key=stored.get("key", task.options.key),
        delay=None if run_after else task.options.delay,
        run_after=datetime.fromisoformat(run_after) if run_after else None,
    )
    return dataclasses.replace(task, options=options)


def check_relayable(backend: TaskBackend, job: Job) -> None:
    """Refuse, at ``add_task``, a job the outbox cannot carry: one whose backend keeps live
    arguments in this process, or one with files for the blob store (the relay has no files)."""
    if not backend.encodes_arguments:
        raise ConfigError(
            f"task {job.task.name!r} runs on the {backend.alias} backend, which cannot take jobs "
            "from the outbox: route it to celery or arq (BGMIGRATE_BACKEND / BGMIGRATE_ROUTES), "
            "or add it with a plain Tasks parameter"
        )
    if job.blobs:
        raise ConfigError(
            f"task {job.task.name!r} is given files (or large bytes) for the blob store, which "
            "the outbox cannot carry: store them yourself and pass their key, or add the task "
            "with a plain Tasks parameter"
        )
