"""The quickstart in outbox mode: a saved note's tasks run on a real ARQ worker once relayed;
an invalid note saves nothing and queues nothing."""

from __future__ import annotations

import importlib
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import TaskHandle
from bgmigrate.outbox.relay import Relay
from examples.quickstart.tasks import Summary
from tests.examples.test_quickstart import DOCUMENT, arq_worker

__all__ = ["arq_worker"]  # the fixture, shared with the quickstart's own tests


def rows(url: str, query: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def test_a_saved_note_has_its_tasks_relayed_and_run(
    postgres_url: str, arq_worker: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_OUTBOX_URL", postgres_url.replace("://", "+psycopg://", 1))
    runtime = bgmigrate.configure(
        backend="arq",
        broker_url=arq_worker["BGMIGRATE_BROKER_URL"],
        default_queue="quickstart",
        outbox_url=postgres_url,
    )
    outbox_app = importlib.import_module("examples.quickstart.outbox_app")
    with TestClient(outbox_app.app) as client:
        assert client.post("/notes", json={"owner": "ada@example.com"}).status_code == 422
        assert client.post("/notes", json=DOCUMENT).status_code == 201
    outbox_app.engine.dispose()
    assert rows(postgres_url, "SELECT owner FROM notes") == [("ada@example.com",)]
    (summary_job,) = rows(
        postgres_url, "SELECT job_id FROM bgmigrate_outbox WHERE task LIKE '%summarize'"
    )
    relay = Relay(runtime.settings, runtime)
    try:
        assert relay.relay_batch() == 2
    finally:
        relay.close()
    handle = TaskHandle(summary_job[0], runtime.backend("arq"))
    assert handle.result(timeout=30) == Summary(words=6, first_line="Title line")
