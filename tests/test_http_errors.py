"""A refused enqueue tells the client nothing about the broker; the log has it, under an id."""

from __future__ import annotations

import re
import urllib.parse

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate.batch import Tasks
from bgmigrate.http_errors import REQUEST_ID_HEADER
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import TASK_MODULE, dead_url

PASSWORD = "http-pw-0e5d"


def make_app() -> FastAPI:
    """One route that adds a task."""
    app = FastAPI()

    @app.post("/add")
    async def add(queued: Tasks) -> dict[str, str]:
        queued.add_task(tasks.add, 1, 2)
        return {}

    return app


@pytest.fixture
def broker_url(redis_url: str) -> str:
    """An arq broker URL where nothing listens (with a password)."""
    url = dead_url(redis_url, PASSWORD)
    bgmigrate.configure(backend="arq", broker_url=url, task_modules=[TASK_MODULE])
    return url


def test_the_client_gets_a_generic_503_with_a_request_id_and_the_log_the_details(
    broker_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    port = str(urllib.parse.urlsplit(broker_url).port)
    with TestClient(make_app()) as client:
        response = client.post("/add")
    assert response.status_code == 503
    ident = response.headers[REQUEST_ID_HEADER]
    assert re.fullmatch(r"[0-9a-f]{32}", ident)
    assert ident in response.json()["detail"]
    assert response.headers["retry-after"]
    for secret in (port, "127.0.0.1", tasks.add.name, "add", PASSWORD, "Error"):
        assert secret not in response.text
    [record] = [r for r in caplog.records if ident in r.getMessage()]
    assert port in record.getMessage()
    assert PASSWORD not in caplog.text


def test_a_sane_incoming_request_id_is_reused(broker_url: str) -> None:
    with TestClient(make_app()) as client:
        response = client.post("/add", headers={REQUEST_ID_HEADER: "lb-7f3a:01"})
    assert response.headers[REQUEST_ID_HEADER] == "lb-7f3a:01"
    assert "lb-7f3a:01" in response.json()["detail"]


@pytest.mark.parametrize("incoming", ["a b", "x" * 129, "id\\nforged log line", "<script>"])
def test_an_insane_incoming_request_id_is_replaced(
    broker_url: str, incoming: str, caplog: pytest.LogCaptureFixture
) -> None:
    with TestClient(make_app()) as client:
        response = client.post("/add", headers={REQUEST_ID_HEADER: incoming})
    assert re.fullmatch(r"[0-9a-f]{32}", response.headers[REQUEST_ID_HEADER])
    assert incoming not in caplog.text + response.text
