"""Outbox mode: a request's tasks are committed with its data, then relayed to the broker.

``OutboxTasks = outbox_tasks(get_session)`` is the one line an app adds; see docs/outbox.md.
Needs the ``outbox`` extra (SQLAlchemy, psycopg 3).
"""

from __future__ import annotations

from bgmigrate.outbox.session import OutboxBatch, outbox_tasks

__all__ = ["OutboxBatch", "outbox_tasks"]
