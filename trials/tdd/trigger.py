"""Hit POST /summaries/ once and wait until a worker has written the summary row.

Run from the app's project/ directory with DATABASE_URL set and BGMIGRATE_BACKEND naming a
queue backend: the app is built as its own tests build it (create_application +
register_tortoise), the request goes through TestClient, and the effect (the row's ``summary``
column filled) is polled in PostgreSQL with a timeout. Prints the row and exits 0 on success.
"""

from __future__ import annotations

import asyncio
import os
import sys
import time

from app.main import create_application
from starlette.testclient import TestClient
from tortoise import Tortoise
from tortoise.contrib.fastapi import register_tortoise


async def _summary(summary_id: int) -> str:
    await Tortoise.init(
        db_url=os.environ["DATABASE_URL"], modules={"models": ["app.models.tortoise"]}
    )
    try:
        conn = Tortoise.get_connection("default")
        rows = await conn.execute_query_dict(
            "SELECT summary FROM textsummary WHERE id = $1", [summary_id]
        )
        return rows[0]["summary"] if rows else ""
    finally:
        await Tortoise.close_connections()


def main() -> int:
    url = sys.argv[1]
    app = create_application()
    register_tortoise(
        app,
        db_url=os.environ["DATABASE_URL"],
        modules={"models": ["app.models.tortoise"]},
        generate_schemas=True,
        add_exception_handlers=True,
    )
    with TestClient(app) as client:
        response = client.post("/summaries/", json={"url": url})
    print("POST /summaries/ ->", response.status_code, response.json(), flush=True)
    if response.status_code != 201:
        return 1
    summary_id = response.json()["id"]
    deadline = time.monotonic() + float(os.environ.get("TRIGGER_TIMEOUT", "90"))
    while time.monotonic() < deadline:
        summary = asyncio.run(_summary(summary_id))
        if summary:
            print(f"row {summary_id} summary written by the worker: {summary!r}")
            return 0
        time.sleep(0.5)  # polling the database with a deadline, not a fixed wait
    print(f"row {summary_id}: no summary after the timeout")
    return 1


if __name__ == "__main__":
    sys.exit(main())
