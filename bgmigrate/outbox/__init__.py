"""Outbox mode: a request's tasks are committed with its data, then relayed to the broker.

The one line an app adds (see docs/outbox.md)::

    OutboxTasks = Annotated[OutboxBatch, Depends(outbox_dependency(get_session))]

Needs the ``outbox`` extra (SQLAlchemy, psycopg 3).
"""

from __future__ import annotations

from bgmigrate.outbox.session import OutboxBatch, outbox_dependency

__all__ = ["OutboxBatch", "outbox_dependency"]
