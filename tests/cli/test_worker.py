"""``bgmigrate worker``: choosing and starting the worker, and refusing bad configurations."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from kombu import Connection, Queue
from typer.testing import CliRunner

import bgmigrate
from bgmigrate.cli import app
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import TASK_MODULE, worker_environment
from bgmigrate.testing.workers import WorkerFactory, bgmigrate_command

runner = CliRunner()
RABBITMQ_URL = "amqp://guest:guest@127.0.0.1:5672//"


def test_the_inprocess_backend_has_no_worker_and_the_error_says_what_to_pass(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    result = runner.invoke(app, ["worker"])
    assert result.exit_code == 2
    assert "pass --backend celery or --backend arq" in result.output


def test_a_task_module_that_does_not_import_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "no_such_module_here")
    result = runner.invoke(app, ["worker", "--backend", "arq"])
    assert result.exit_code == 2
    assert "cannot import 'no_such_module_here'" in result.output


def test_task_modules_are_imported_from_the_working_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    (tmp_path / "cwd_only_tasks.py").write_text(
        "from bgmigrate import task\n\n@task\ndef cwd_only() -> None: ...\n"
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "cwd_only_tasks")
    # Imports succeed, so the worker gets as far as checking its options (and refuses them).
    result = runner.invoke(app, ["worker", "--backend", "arq", "--queues", "a,b"])
    assert "one queue" in result.output
    assert "cwd_only_tasks.cwd_only" in bgmigrate.registry.registry
    bgmigrate.registry.registry.unregister("cwd_only_tasks.cwd_only")


def test_an_arq_worker_consumes_one_queue(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    result = runner.invoke(app, ["worker", "--backend", "arq", "--queues", "a,b"])
    assert result.exit_code == 2
    assert "one queue" in result.output


def test_help_lists_the_options() -> None:
    result = runner.invoke(app, ["worker", "--help"])
    assert result.exit_code == 0
    for option in ("--backend", "--concurrency", "--queues", "--loglevel"):
        assert option in result.output


def test_bgmigrate_worker_runs_arq_tasks_from_the_queue_it_is_given(
    redis_url: str, worker_factory: WorkerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    queue = f"cli-{uuid.uuid4().hex[:8]}"
    env = worker_environment("arq", redis_url, redis_url, queue="unused-default")
    worker_factory(bgmigrate_command("arq", concurrency=2, queues=[queue]), env=env)
    monkeypatch.setenv(tasks.REDIS_URL_ENV, redis_url)
    bgmigrate.configure(backend="arq", broker_url=redis_url, default_queue=queue)
    assert tasks.add.enqueue(40, 2).result(timeout=30) == 42


def test_a_celery_worker_that_stops_on_an_unrecoverable_error_exits_non_zero(
    redis_url: str,
) -> None:
    # A queue declared without the priority argument that bgmigrate's workers declare it with:
    # RabbitMQ refuses the worker's declaration, and Celery stops ("Unrecoverable error").
    queue = f"cli-unrecoverable-{uuid.uuid4().hex[:8]}"
    with Connection(RABBITMQ_URL) as connection:
        Queue(queue, auto_delete=True, channel=connection.default_channel).declare()
        env = {**os.environ, **worker_environment("celery", redis_url, RABBITMQ_URL, queue)}
        done = subprocess.run(
            bgmigrate_command("celery", concurrency=1),
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert "Unrecoverable error" in done.stdout + done.stderr
    assert done.returncode != 0
