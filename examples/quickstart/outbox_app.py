"""The quickstart in outbox mode: a note and the tasks about it commit in one transaction.

``POST /notes`` saves a note in PostgreSQL and adds two tasks in the same transaction (outbox
mode, see docs/outbox.md); ``bgmigrate relay`` moves them to the broker once committed. The
database is ``BGMIGRATE_OUTBOX_URL`` (the relay reads the same one). Run it with
``docker compose up`` (service ``outbox-app``, port 8001).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, FastAPI
from sqlalchemy import create_engine, text
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

import bgmigrate
from bgmigrate.outbox import OutboxBatch, outbox_dependency
from bgmigrate.outbox.table import ddl
from examples.quickstart.app import Document
from examples.quickstart.tasks import notify, summarize

engine = create_engine(
    os.environ.get("BGMIGRATE_OUTBOX_URL", "postgresql+psycopg://127.0.0.1:5432/bgmigrate")
)


class Base(DeclarativeBase):
    """The app's tables."""


class Note(Base):
    """A saved document."""

    __tablename__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    owner: Mapped[str]
    text: Mapped[str]


def get_session() -> Iterator[Session]:
    """The request's session; what it did not commit is rolled back when it closes."""
    with Session(engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]
OutboxTasks = Annotated[OutboxBatch, Depends(outbox_dependency(get_session))]


@asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Create the tables (a real app runs its migrations), then start bgmigrate."""
    with engine.begin() as conn:
        Base.metadata.create_all(conn)
        conn.execute(text(ddl()))
    async with bgmigrate.lifespan():
        yield


app = FastAPI(title="bgmigrate quickstart (outbox mode)", lifespan=lifespan)


@app.post("/notes", status_code=201)
def save_note(document: Document, session: SessionDep, tasks: OutboxTasks) -> dict[str, int]:
    """Save a note; its summary and notification are enqueued if, and only if, it commits."""
    note = Note(owner=document.owner, text=document.text)
    session.add(note)
    session.flush()  # assigns note.id
    tasks.add_task(summarize, document.text)
    tasks.add_task(notify, document.owner, f"note {note.id} is saved")
    session.commit()
    return {"id": note.id}
