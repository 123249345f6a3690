"""SQLite storage shared by the web process and (after migration) the workers."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    filename TEXT NOT NULL,
    status TEXT NOT NULL,
    text TEXT,
    embedding TEXT
);
CREATE TABLE IF NOT EXISTS conversation_log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    session_id TEXT NOT NULL,
    role TEXT NOT NULL,
    content TEXT NOT NULL
);
"""


def database_path() -> str:
    """Where the SQLite file lives (``DOCAPP_DB``, default ``docapp.sqlite3``)."""
    return os.environ.get("DOCAPP_DB", "docapp.sqlite3")


@contextmanager
def connect() -> Iterator[sqlite3.Connection]:
    """A connection with the schema in place, committed on success."""
    connection = sqlite3.connect(database_path(), timeout=30)
    try:
        connection.executescript(SCHEMA)
        yield connection
        connection.commit()
    finally:
        connection.close()


def create_document(filename: str) -> int:
    """Insert a pending document row and return its id."""
    with connect() as db:
        cursor = db.execute(
            "INSERT INTO documents (filename, status) VALUES (?, 'pending')", (filename,)
        )
        return int(cursor.lastrowid or 0)


def save_processed(document_id: int, text: str, embedding: list[float]) -> None:
    """Store a document's extracted text and embedding."""
    with connect() as db:
        db.execute(
            "UPDATE documents SET status = 'ready', text = ?, embedding = ? WHERE id = ?",
            (text, json.dumps(embedding), document_id),
        )


def get_document(document_id: int) -> dict[str, object] | None:
    """A document as a dict, or None."""
    with connect() as db:
        row = db.execute(
            "SELECT id, filename, status, text, embedding FROM documents WHERE id = ?",
            (document_id,),
        ).fetchone()
    if row is None:
        return None
    return {
        "id": row[0],
        "filename": row[1],
        "status": row[2],
        "text": row[3],
        "embedding": json.loads(row[4]) if row[4] else None,
    }


def append_messages(session_id: str, messages: list[dict[str, str]]) -> None:
    """Append chat messages to the conversation log."""
    with connect() as db:
        db.executemany(
            "INSERT INTO conversation_log (session_id, role, content) VALUES (?, ?, ?)",
            [(session_id, m["role"], m["content"]) for m in messages],
        )


def conversation(session_id: str) -> list[dict[str, str]]:
    """The logged messages of one chat session, oldest first."""
    with connect() as db:
        rows = db.execute(
            "SELECT role, content FROM conversation_log WHERE session_id = ? ORDER BY id",
            (session_id,),
        ).fetchall()
    return [{"role": role, "content": content} for role, content in rows]
