"""The runtime picks a backend per task, checks calls, and fails fast on bad configuration."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import anyio
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import task
from bgmigrate.adapters.inprocess import InProcessBackend
from bgmigrate.errors import ConfigError, SerializationError
from tests.backends import LifecycleBackend, RecordingBackend

RECORDING = "tests.backends:RecordingBackend"


@task
def store(text: str) -> None:
    """A task whose argument size the tests vary."""


@task(backend=RECORDING)
def pinned(text: str) -> None:
    """A task that names its own backend."""


def test_default_backend_is_inprocess() -> None:
    assert isinstance(bgmigrate.get_runtime().backend_for(store), InProcessBackend)


def test_a_task_backend_option_beats_routes_and_the_default() -> None:
    runtime = bgmigrate.configure(routes={"*": "inprocess"})
    assert isinstance(runtime.backend_for(pinned), RecordingBackend)


def test_using_backend_switches_backend_for_one_call() -> None:
    runtime = bgmigrate.get_runtime()
    assert isinstance(runtime.backend_for(store.using(backend=RECORDING)), RecordingBackend)


def test_a_task_object_is_prepared_with_its_own_options_even_if_unregistered() -> None:
    # ``using()`` returns a copy that the registry does not know by identity: prepare must
    # route the copy itself, with its options, not look it up as a plain function.
    copy = store.using(backend=RECORDING)
    backend, job = bgmigrate.get_runtime().prepare(copy, ("x",), {})
    assert isinstance(backend, RecordingBackend)
    assert job.task is copy


def test_a_decorated_function_is_found_in_the_registry() -> None:
    _, job = bgmigrate.get_runtime().prepare(store.func, ("x",), {})
    assert job.task is store


def test_oversized_payload_is_refused_at_enqueue() -> None:
    bgmigrate.configure(backend=RECORDING, max_payload_bytes=100)
    with pytest.raises(SerializationError, match="BGMIGRATE_MAX_PAYLOAD_BYTES=100"):
        store.enqueue("x" * 200)
    store.enqueue("small")


@pytest.mark.parametrize(
    ("backend", "message"),
    [
        ("tests.no_such_module:Backend", "cannot import module 'tests.no_such_module'.*arq"),
        ("tests.backends:Missing", "has no 'Missing'.*valid choices: inprocess"),
        ("tests.backends:ALL", "is not a TaskBackend subclass; valid choices: inprocess"),
    ],
)
def test_a_backend_path_that_does_not_resolve_fails_at_start_up(backend: str, message: str) -> None:
    bgmigrate.configure(backend=backend)
    app = FastAPI(lifespan=bgmigrate.lifespan)
    with pytest.raises(ConfigError, match=message), TestClient(app):
        pass


def _wired_by_event_handlers() -> FastAPI:
    app = FastAPI()
    app.router.add_event_handler("startup", bgmigrate.startup)
    app.router.add_event_handler("shutdown", bgmigrate.shutdown)
    return app


@pytest.mark.parametrize(
    "make_app",
    [lambda: FastAPI(lifespan=bgmigrate.lifespan), _wired_by_event_handlers],
    ids=["lifespan", "event handlers"],
)
def test_the_app_starts_the_backends_and_closes_them_at_shutdown(
    make_app: Callable[[], FastAPI],
) -> None:
    LifecycleBackend.events.clear()
    bgmigrate.configure(backend="tests.backends:LifecycleBackend")
    with TestClient(make_app()):
        assert LifecycleBackend.events == ["start"]
    assert LifecycleBackend.events == ["start", "close"]


def test_a_routed_backend_that_does_not_resolve_fails_at_start_up() -> None:
    runtime = bgmigrate.configure(routes={"app.*": "tests.backends:Missing"})
    with pytest.raises(ConfigError, match="has no 'Missing'"):
        anyio.run(runtime.start)


def test_concurrent_first_uses_share_one_backend() -> None:
    runtime = bgmigrate.configure()
    with ThreadPoolExecutor(max_workers=16) as pool:
        backends = set(pool.map(lambda _: id(runtime.backend("inprocess")), range(64)))
    assert len(backends) == 1
