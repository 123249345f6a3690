"""The quickstart HTTP API: enqueue summaries, read their status and result.

Run it with ``docker compose up`` (Celery worker) or ``BGMIGRATE_BACKEND=arq docker compose up``.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel

import bgmigrate
from bgmigrate import TaskHandle, Tasks, TaskStatus
from examples.quickstart.tasks import notify, summarize

app = FastAPI(title="bgmigrate quickstart", lifespan=bgmigrate.lifespan)


class Document(BaseModel):
    """A document to summarise, and who to tell."""

    owner: str
    text: str


@app.post("/documents", status_code=202)
async def upload(document: Document, tasks: Tasks) -> dict[str, str]:
    """Queue a summary and a notification; a 202 means both are durably enqueued."""
    tasks.add_task(summarize, document.text)
    tasks.add_task(notify, document.owner, "your document is being summarised")
    return {"status": "queued"}


@app.post("/summaries", status_code=202)
async def create_summary(document: Document) -> dict[str, str]:
    """Queue a summary and return its task id."""
    handle = await summarize.aenqueue(document.text)
    return {"task_id": handle.id}


@app.get("/summaries/{task_id}")
async def read_summary(task_id: str) -> dict[str, Any]:
    """A summary's status, and its result once it is ready."""
    handle = TaskHandle(task_id, bgmigrate.get_runtime().backend_for(summarize))
    status = await handle.astatus()
    result = await handle.aresult(timeout=0) if status is TaskStatus.SUCCESSFUL else None
    return {"status": status.value, "result": result}
