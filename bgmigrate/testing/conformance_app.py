"""The FastAPI application the conformance suite sends requests to."""

from __future__ import annotations

from fastapi import FastAPI, HTTPException

import bgmigrate
from bgmigrate import Tasks
from bgmigrate.testing.conformance_tasks import arecord, record, write


def make_app() -> FastAPI:
    """An app whose endpoints add tasks the way migrated endpoints do."""
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/orders/{log}")
    async def place_order(log: str, tasks: Tasks) -> dict[str, bool]:
        write(log, {"label": "handler"})
        tasks.add_task(record, log, "first")
        tasks.add_task(arecord, log, "second")
        tasks.add_task(record, log, label="third")
        return {"accepted": True}

    @app.post("/failing/{log}")
    async def failing(log: str, tasks: Tasks) -> None:
        tasks.add_task(record, log, "must-not-run")
        raise HTTPException(status_code=409, detail="handler failed after add_task")

    return app
