"""Hostile and broken messages reach a worker: each is rejected or dropped, logged, and the
worker goes on; nothing named by a message is imported or run; no password is ever shown.

One ``bgmigrate worker`` per backend (at DEBUG level, so that everything it could print is
printed) on a private, password-protected ``redis-server``.
"""

from __future__ import annotations

import base64
import json
import re
import subprocess
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from arq.constants import job_key_prefix

import bgmigrate
from bgmigrate.backend import Job, TaskHandle, TaskStatus
from bgmigrate.errors import TaskFailed
from bgmigrate.runtime import Runtime
from bgmigrate.task import Task
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import WAIT, BackendUnderTest, failure_of, start_backend
from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServerFactory
from bgmigrate.testing.workers import WorkerFactory, WorkerProcess, bgmigrate_command

PASSWORD = "hostile-pw-93b2"


@pytest.fixture(scope="module", params=["celery", "arq"])
def hostile(request: pytest.FixtureRequest) -> Iterator[BackendUnderTest]:
    """A worker for each backend on its own password-protected Redis."""
    servers, workers = RedisServerFactory(), WorkerFactory()
    server = servers(password=PASSWORD)
    argv = [*bgmigrate_command(request.param, concurrency=1), "--loglevel", "DEBUG"]
    yield start_backend(request.param, server.url, workers, argv=argv)
    workers.close()
    servers.close()


@pytest.fixture
def runtime(hostile: BackendUnderTest, monkeypatch: pytest.MonkeyPatch) -> Runtime:
    """The runtime configured for the worker's queue on its Redis."""
    monkeypatch.setenv(tasks.REDIS_URL_ENV, hostile.redis_url)
    return bgmigrate.configure(**hostile.settings)


@pytest.fixture
def worker(hostile: BackendUnderTest) -> WorkerProcess:
    """The worker under attack."""
    assert hostile.worker is not None
    return hostile.worker


def send(runtime: Runtime, name: str, payload: dict[str, Any]) -> TaskHandle:
    """Enqueue a message for task ``name`` with ``payload``, as a foreign producer could."""
    task = Task(func=_stand_in, name=name)
    backend = runtime.backend(runtime.settings.backend)
    (handle,) = backend.enqueue([Job(task=task, args=(), kwargs={}, payload=payload)])
    return handle


def _stand_in() -> None:
    """Stands in for whatever function a hostile message names."""


def truncated_body(queue: str) -> dict[str, Any]:
    """A well-formed kombu envelope whose task message body was cut short."""
    return {
        "body": base64.b64encode(b'[[1, 2], {"a').decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {"lang": "py", "task": tasks.add.name, "id": uuid.uuid4().hex},
        "properties": {
            "body_encoding": "base64",
            "delivery_tag": uuid.uuid4().hex,
            "delivery_info": {"exchange": "", "routing_key": queue},
        },
    }


def still_works(worker: WorkerProcess) -> None:
    """The worker is alive and runs the next job."""
    assert worker.alive
    assert tasks.add.enqueue(1, 2).result(timeout=WAIT) == 3


@pytest.mark.parametrize("name", ["os:system", "os.system", "subprocess:getoutput"])
def test_a_message_naming_an_import_path_is_rejected_and_nothing_runs(
    runtime: Runtime, worker: WorkerProcess, tmp_path: Path, name: str
) -> None:
    marker = tmp_path / "pwned"
    handle = send(runtime, name, {"args": [f"touch {marker}"], "kwargs": {}})
    wait_until(lambda: handle.status() is TaskStatus.FAILED, timeout=WAIT, what="the rejection")
    worker.wait_for_log(re.escape(name))
    still_works(worker)
    assert not marker.exists()


def test_garbage_in_the_queue_is_logged_and_dropped_and_the_worker_goes_on(
    hostile: BackendUnderTest, runtime: Runtime, worker: WorkerProcess
) -> None:
    queue = str(hostile.settings["default_queue"])
    client = redis.Redis.from_url(hostile.redis_url)
    garbage = [b"\xff\x00\x93garbage", b'{"f": "bgmigrate.testing.conformance_tasks.add", "a": [1,']
    if hostile.name == "celery":
        for raw in [*garbage, b"[1, 2]", json.dumps(truncated_body(queue)).encode()]:
            client.lpush(queue, raw)
        expected = [r"not a Celery message \(JSONDecodeError", r"not a Celery message \(TypeError"]
        expected.append("Can't decode message body")
    else:
        for raw in garbage:
            job_id = uuid.uuid4().hex
            client.set(job_key_prefix + job_id, raw)
            client.zadd(queue, {job_id: time.time() * 1000})
        expected = [r"refused a malformed message .* not JSON"]
    for pattern in expected:
        worker.wait_for_log(pattern)
    still_works(worker)


@pytest.mark.parametrize(
    ("payload", "mismatch"),
    [
        ({"args": [1, 2, 3], "kwargs": {}}, "do not match the signature"),  # a parameter removed
        ({"args": [1], "kwargs": {"c": 2}}, "do not match the signature"),  # one renamed
        ({"args": ["one", 2], "kwargs": {}}, r"argument 'a'.*integer"),  # its type changed
    ],
    ids=["removed", "renamed", "retyped"],
)
def test_a_producer_with_another_task_signature_gets_a_clear_failure_not_a_crash_loop(
    runtime: Runtime, worker: WorkerProcess, payload: dict[str, Any], mismatch: str
) -> None:
    handle = send(runtime, tasks.add.name, payload)
    exc_type, message = failure_of(handle)
    assert exc_type == "bgmigrate.errors.SerializationError"
    assert re.search(mismatch, message), message
    assert handle.status() is TaskStatus.FAILED
    with pytest.raises(TaskFailed, match=tasks.add.name):
        handle.result(timeout=WAIT)
    still_works(worker)
    assert not re.search(rf"{handle.id}.*(Retry|retry|↻)", worker.log())  # failed once, for good


def test_an_oversized_message_is_refused_and_logged_and_the_worker_goes_on(
    runtime: Runtime, worker: WorkerProcess
) -> None:
    limit = runtime.settings.max_payload_bytes  # the workers' cap too: both use the default
    handle = send(runtime, tasks.record.name, {"args": ["log", "x" * limit], "kwargs": {}})
    exc_type, message = failure_of(handle)
    assert exc_type == "bgmigrate.errors.SerializationError"
    assert f"more than BGMIGRATE_MAX_PAYLOAD_BYTES={limit}" in message
    worker.wait_for_log(rf"SerializationError.*more than BGMIGRATE_MAX_PAYLOAD_BYTES={limit}")
    still_works(worker)


def test_the_broker_password_never_appears_in_worker_output_or_cli_errors(
    hostile: BackendUnderTest, runtime: Runtime, worker: WorkerProcess
) -> None:
    still_works(worker)
    assert PASSWORD in hostile.redis_url  # the worker did authenticate with it
    assert PASSWORD not in worker.log()
    broken = hostile.redis_url.replace("127.0.0.1:", "127.0.0.1:notaport")
    argv = bgmigrate_command(hostile.name)
    env = {**worker.env, "BGMIGRATE_BROKER_URL": broken}
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 2
    assert "BGMIGRATE_BROKER_URL" in done.stderr
    assert PASSWORD not in done.stdout + done.stderr
