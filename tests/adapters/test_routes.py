"""ROUTES: in one app, some tasks stay in-process while others go to a queue."""

from __future__ import annotations

import os
import uuid

import pytest
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import events, start_backend
from bgmigrate.testing.conformance_app import make_app
from bgmigrate.testing.workers import WorkerFactory


@pytest.mark.parametrize("queue_backend", ["arq", "celery"])
def test_routed_tasks_stay_in_process_while_the_others_go_to_the_worker(
    queue_backend: str,
    redis_url: str,
    worker_factory: WorkerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    backend = start_backend(queue_backend, redis_url, worker_factory)
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    bgmigrate.configure(**backend.settings, routes={tasks.record.name: "inprocess"})
    log = f"routes:{uuid.uuid4().hex}"
    with TestClient(make_app()) as client:
        assert client.post(f"/orders/{log}").status_code == 200
    ran_in = {event["label"]: event.get("pid") for event in events(log, 4)}
    assert ran_in["first"] == ran_in["third"] == os.getpid()  # record: routed in-process
    assert ran_in["second"] not in (None, os.getpid())  # arecord: on the worker
