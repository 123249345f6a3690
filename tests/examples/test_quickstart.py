"""The quickstart app behind docker-compose.yml, in-process and with a real ARQ worker."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.workers import WorkerFactory, arq_command

ROOT = Path(__file__).resolve().parents[2]
DOCUMENT = {"owner": "ada@example.com", "text": "Title line\nfour more words here"}


def _summary_of(client: TestClient) -> dict[str, object]:
    task_id = client.post("/summaries", json=DOCUMENT).json()["task_id"]

    def probe() -> dict[str, object] | None:
        body: dict[str, object] = client.get(f"/summaries/{task_id}").json()
        return body if body["status"] == "SUCCESSFUL" else None

    return wait_until(probe, timeout=30, what="the summary")


@pytest.fixture
def arq_worker(redis_url: str, worker_factory: WorkerFactory) -> dict[str, str]:
    env = {
        "BGMIGRATE_BACKEND": "arq",
        "BGMIGRATE_BROKER_URL": redis_url,
        "BGMIGRATE_TASK_MODULES": "examples.quickstart.tasks",
        "BGMIGRATE_DEFAULT_QUEUE": "quickstart",
        "PYTHONPATH": str(ROOT),  # the image's PYTHONPATH=/app
    }
    worker_factory(arq_command(), env=env)
    return env


def test_the_quickstart_app_summarises_in_process() -> None:
    from examples.quickstart.app import app

    with TestClient(app) as client:
        assert client.post("/documents", json=DOCUMENT).status_code == 202
        assert _summary_of(client)["result"] == {"words": 6, "first_line": "Title line"}


def test_the_quickstart_app_summarises_on_an_arq_worker(arq_worker: dict[str, str]) -> None:
    from examples.quickstart.app import app

    bgmigrate.configure(
        backend="arq", broker_url=arq_worker["BGMIGRATE_BROKER_URL"], default_queue="quickstart"
    )
    with TestClient(app) as client:
        assert client.post("/documents", json=DOCUMENT).status_code == 202
        assert _summary_of(client)["result"] == {"words": 6, "first_line": "Title line"}
