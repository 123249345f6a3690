"""``Tasks`` keeps BackgroundTasks' meaning in a real FastAPI app (through TestClient)."""

from __future__ import annotations

import inspect
import logging
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import anyio.from_thread
import anyio.to_thread
import pytest
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import Tasks, task
from bgmigrate.batch import SUPPORTED_FASTAPI, dispatch_depends, get_request_batch
from bgmigrate.errors import ReadinessWarning, SerializationError, UnknownTaskError
from tests.backends import RecordingBackend

RECORDING = "tests.backends:RecordingBackend"
DOWN = "tests.backends:DownBackend"

events: list[str] = []


@task
def record(label: str) -> None:
    events.append(label)


@task
async def arecord(label: str) -> None:
    events.append(label)


@task
def explode(label: str) -> None:
    raise RuntimeError(f"explode {label}")


async def _borrowed_default_tokens() -> int:
    return anyio.to_thread.current_default_thread_limiter().borrowed_tokens


def _starlette_tokens_in_use() -> str:
    """From a worker thread: how many tokens of the limiter Starlette's pool uses are taken."""
    return str(anyio.from_thread.run(_borrowed_default_tokens))


@task
def where_am_i(label: str) -> None:
    events.append(_starlette_tokens_in_use())


def plain_where_am_i(label: str) -> None:
    events.append(_starlette_tokens_in_use())


def unregistered(label: str) -> None:
    events.append(f"plain:{label}")


@task
def inspect_request(request: object) -> None:
    """A task that (wrongly) wants the request object."""


@pytest.fixture(autouse=True)
def clear_events() -> None:
    events.clear()
    RecordingBackend.batches.clear()
    return


def audit(tasks: Tasks) -> bgmigrate.RequestBatch:
    """FastAPI's docs example: a dependency adds a task, then the endpoint adds more."""
    tasks.add_task(record, "from-dependency")
    return tasks


def make_app() -> FastAPI:
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/order")
    def order(tasks: Annotated[bgmigrate.RequestBatch, Depends(audit)]) -> dict[str, int]:
        tasks.add_task(record, "first")
        tasks.add_task(arecord, "second")
        tasks.add_task(unregistered, "third")
        tasks.add_task(record, "fourth")
        return {"queued": len(tasks)}

    @app.post("/raises")
    def raises(tasks: Tasks) -> None:
        tasks.add_task(record, "never")
        raise HTTPException(status_code=409, detail="conflict")

    @app.post("/crashes")
    async def crashes(tasks: Tasks) -> None:
        tasks.add_task(record, "never")
        raise RuntimeError("handler bug")

    @app.post("/error-response")
    def error_response(tasks: Tasks) -> JSONResponse:
        tasks.add_task(record, "still-runs")
        return JSONResponse({"error": "bad input"}, status_code=422)

    @app.post("/middle-fails")
    def middle_fails(tasks: Tasks) -> None:
        tasks.add_task(record, "one")
        tasks.add_task(explode, "two")
        tasks.add_task(record, "three")

    @app.post("/thread")
    def thread(tasks: Tasks) -> None:
        tasks.add_task(where_am_i, "x")

    @app.post("/plain-thread")
    def plain_thread(tasks: Tasks) -> None:
        tasks.add_task(plain_where_am_i, "x")

    @app.post("/request")
    def pass_request(request: Request, tasks: Tasks) -> None:
        tasks.add_task(inspect_request, request)

    @app.post("/unregistered")
    def plain(tasks: Tasks) -> None:
        tasks.add_task(unregistered, "a")
        tasks.add_task(record, "b")

    return app


@pytest.fixture
def client() -> Iterator[TestClient]:
    with TestClient(make_app()) as test_client:
        yield test_client


def test_the_app_can_start_again_after_a_shutdown() -> None:
    app = make_app()
    for _ in range(2):  # as a test suite does, with one TestClient per test
        with TestClient(app) as client:
            client.post("/thread")
    assert len(events) == 2


def test_tasks_run_in_the_order_added_sharing_one_queue_with_dependencies(
    client: TestClient,
) -> None:
    assert client.post("/order").json() == {"queued": 5}
    assert events == ["from-dependency", "first", "second", "plain:third", "fourth"]


@pytest.mark.parametrize("path", ["/raises", "/crashes"])
def test_nothing_runs_when_the_handler_raises(path: str) -> None:
    with TestClient(make_app(), raise_server_exceptions=False) as client:
        assert client.post(path).status_code in (409, 500)
    assert events == []


def test_tasks_still_run_when_the_handler_returns_an_error_response(client: TestClient) -> None:
    assert client.post("/error-response").status_code == 422
    assert events == ["still-runs"]


def test_a_failing_task_is_logged_once_and_does_not_stop_the_next(
    client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR, logger="bgmigrate"):
        assert client.post("/middle-fails").status_code == 200  # and TestClient saw no exception
    assert events == ["one", "three"]
    failures = [r for r in caplog.records if "failed" in r.getMessage()]
    assert len(failures) == 1
    message = failures[0].getMessage()
    assert f"{__name__}.explode('two')" in message
    assert "RuntimeError('explode two')" in message
    assert failures[0].exc_info is not None  # the traceback is logged


def test_sync_task_functions_do_not_take_threads_that_sync_endpoints_need(
    client: TestClient,
) -> None:
    client.post("/thread")
    assert events == ["0"]  # none of Starlette's 40 tokens: @task functions have their own


def test_unregistered_sync_callables_run_on_starlettes_thread_pool_as_before(
    client: TestClient,
) -> None:
    client.post("/plain-thread")
    assert events == ["1"]  # its own token, as run_in_threadpool takes for BackgroundTasks


def test_request_scoped_argument_warns_at_the_add_task_line_in_process(client: TestClient) -> None:
    with pytest.warns(ReadinessWarning, match="argument 'request'.*bound to this request") as seen:
        client.post("/request")
    assert seen[0].filename == __file__


def test_request_scoped_argument_is_an_error_in_strict_mode() -> None:
    bgmigrate.configure(strict=True)
    with TestClient(make_app()) as client, pytest.raises(SerializationError, match="'request'"):
        client.post("/request")


def test_request_scoped_argument_is_an_error_at_add_task_on_a_queue_backend() -> None:
    bgmigrate.configure(backend=RECORDING)
    with TestClient(make_app()) as client, pytest.raises(SerializationError, match="'request'"):
        client.post("/request")
    assert RecordingBackend.batches == []


def test_inprocess_tasks_get_the_very_objects_given_to_add_task() -> None:
    given = {"items": [1]}
    received: list[object] = []
    app = FastAPI()

    @app.post("/")
    def endpoint(tasks: Tasks) -> None:
        tasks.add_task(received.append, given)

    with TestClient(app) as client:
        client.post("/")
    assert received[0] is given


def test_registered_tasks_are_enqueued_before_the_response_on_a_queue_backend() -> None:
    bgmigrate.configure(backend=RECORDING)
    with TestClient(make_app()) as client:
        with pytest.warns(ReadinessWarning, match="unregistered"):
            response = client.post("/unregistered")
        assert response.status_code == 200
        [batch] = RecordingBackend.batches  # enqueued by the time the response arrived
        assert [job.task.name for job in batch] == [record.name]
        assert batch[0].payload == {"args": ["b"], "kwargs": {}}
    assert events == ["plain:a"]  # the unregistered callable still ran in-process


def test_an_unregistered_callable_warns_only_once_per_process() -> None:
    bgmigrate.configure(backend=RECORDING)
    with TestClient(make_app()) as client:
        with pytest.warns(ReadinessWarning):
            client.post("/unregistered")
        client.post("/unregistered")  # filterwarnings=error: a second warning would fail here


def test_an_unregistered_callable_is_an_error_in_strict_mode() -> None:
    bgmigrate.configure(backend=RECORDING, strict=True)
    with TestClient(make_app()) as client, pytest.raises(UnknownTaskError, match="@task"):
        client.post("/unregistered")


def test_a_broker_failure_is_a_503_and_runs_nothing(caplog: pytest.LogCaptureFixture) -> None:
    bgmigrate.configure(backend=DOWN)
    with TestClient(make_app()) as client, pytest.warns(ReadinessWarning):
        response = client.post("/unregistered")
    assert response.status_code == 503
    assert "could not be enqueued" in response.json()["detail"]
    assert events == []  # the in-process task of that request did not run either
    assert any("not enqueued" in r.getMessage() for r in caplog.records)


def test_routes_send_some_tasks_to_a_queue_and_keep_others_in_process() -> None:
    bgmigrate.configure(routes={f"{__name__}.arecord": RECORDING})
    with TestClient(make_app()) as client:
        client.post("/order")
    assert events == ["from-dependency", "first", "plain:third", "fourth"]
    assert [[job.task.name for job in batch] for batch in RecordingBackend.batches] == [
        [arecord.name]
    ]


@pytest.mark.skipif("scope" not in inspect.signature(Depends).parameters, reason="FastAPI < 0.121")
def test_fastapi_with_function_scope_dispatches_from_a_function_scoped_dependency() -> None:
    depends = dispatch_depends("0.121.0", depends_takes_scope=True)
    assert depends.dependency is get_request_batch
    assert depends.scope == "function"


@pytest.mark.parametrize("release", ["0.106.0", "0.115.6", "0.117.1"])
def test_fastapi_106_to_117_dispatches_from_a_plain_yield_dependency(release: str) -> None:
    depends = dispatch_depends(release, depends_takes_scope=False)
    assert depends.dependency is get_request_batch
    assert getattr(depends, "scope", None) is None


@pytest.mark.parametrize("release", ["0.105.0", "0.118.0", "0.120.4"])
def test_fastapi_releases_that_exit_after_the_response_are_refused_at_import(
    release: str,
) -> None:
    with pytest.raises(ImportError, match=rf"needs FastAPI .*installed: {release}.*503"):
        dispatch_depends(release, depends_takes_scope=False)


def test_the_declared_fastapi_range_is_the_one_the_import_accepts() -> None:
    project = tomllib.loads((Path(__file__).parent.parent / "pyproject.toml").read_text())
    assert f"fastapi{SUPPORTED_FASTAPI}" in project["project"]["dependencies"]


def test_an_idempotency_key_header_gives_each_queued_task_the_same_key_on_every_retry() -> None:
    bgmigrate.configure(routes={f"{__name__}.*record": RECORDING})  # the rest stays in-process
    with TestClient(make_app()) as client:
        for header in ("order-1", "order-1", "order-2"):
            client.post("/order", headers={"Idempotency-Key": header})
        client.post("/order")
    keys = [[job.task.options.key for job in batch] for batch in RecordingBackend.batches]
    first, retry, other, without = keys
    assert len(first) == len(set(first)) == 4  # one key per queued task of the request
    assert retry == first
    assert not set(other) & set(first)
    assert without == [None] * 4


def test_an_empty_batch_is_true_as_background_tasks_is() -> None:
    # A real app (seapagan/fastapi-template) tests ``if background_tasks:`` to mean "one was
    # passed": with a falsy empty batch, registration skipped its verification step after rewrite.
    app = FastAPI()

    @app.post("/register")
    def register(tasks: Tasks) -> dict[str, bool]:
        return {"passed": bool(tasks), "empty": len(tasks) == 0}

    with TestClient(app) as client:
        assert client.post("/register").json() == {"passed": True, "empty": True}
