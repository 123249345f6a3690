"""End to end: rewrite the example app, then its own tests pass on every backend.

The example (examples/docapp) is copied, ``bgmigrate rewrite`` migrates the copy, and the
example's unchanged tests run against the migrated copy in-process and with a real ARQ and a real
Celery worker (the tests poll for the side effects, which the workers write to a shared SQLite
file).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from bgmigrate.testing.workers import WorkerFactory, arq_command, celery_command

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
BGMIGRATE = str(Path(sys.executable).parent / "bgmigrate")


@pytest.fixture(scope="module")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example app, rewritten by ``bgmigrate rewrite``."""
    target = tmp_path_factory.mktemp("docapp")
    skip = shutil.ignore_patterns("__pycache__", "*.sqlite3")
    for name in ("docapp", "tests"):
        shutil.copytree(EXAMPLES / name, target / name, ignore=skip)
    shutil.copy(EXAMPLES / "pytest.ini", target / "pytest.ini")
    subprocess.run([BGMIGRATE, "rewrite", "docapp"], cwd=target, check=True, capture_output=True)
    return target


def run_example_tests(app_dir: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the example's own tests against ``app_dir`` with ``env`` added."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BGMIGRATE_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=app_dir,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )


def queue_env(migrated: Path, backend: str, redis_url: str) -> dict[str, str]:
    """Settings shared by the tests' web process and the worker."""
    return {
        "BGMIGRATE_BACKEND": backend,
        "BGMIGRATE_BROKER_URL": redis_url,
        "BGMIGRATE_RESULT_URL": redis_url,
        "BGMIGRATE_TASK_MODULES": "docapp.processing",
        "BGMIGRATE_DEFAULT_QUEUE": f"docapp-{uuid.uuid4().hex[:8]}",
        "DOCAPP_DB": str(migrated / f"{backend}.sqlite3"),
        "PYTHONPATH": str(migrated),
    }


def test_the_rewrite_moves_both_tasks_and_is_idempotent(migrated: Path) -> None:
    main = (migrated / "docapp/main.py").read_text()
    processing = (migrated / "docapp/processing.py").read_text()
    assert "BackgroundTasks" not in main
    assert main.count(": Tasks") == 2
    assert processing.count("@task(timeout=") == 2
    again = subprocess.run([BGMIGRATE, "rewrite", "--check", "docapp"], cwd=migrated, check=False)
    assert again.returncode == 0


def test_the_migrated_app_passes_its_tests_in_process(migrated: Path) -> None:
    completed = run_example_tests(migrated, {"BGMIGRATE_BACKEND": "inprocess"})
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "3 passed" in completed.stdout


@pytest.mark.slow
def test_the_migrated_app_passes_its_tests_on_an_arq_worker(
    migrated: Path, redis_url: str, worker_factory: WorkerFactory
) -> None:
    env = queue_env(migrated, "arq", redis_url)
    worker = worker_factory(arq_command(), env=env)
    completed = run_example_tests(migrated, env)
    assert completed.returncode == 0, completed.stdout + completed.stderr + worker.log()
    # The worker, not the web process, ran both tasks (arq logs "← id:name ●" on success).
    assert re.search(r"← \w+:docapp\.processing\.process_document ●", worker.log())
    assert re.search(r"← \w+:docapp\.processing\.log_conversation ●", worker.log())


@pytest.mark.slow
def test_the_migrated_app_passes_its_tests_on_a_celery_worker(
    migrated: Path, redis_url: str, worker_factory: WorkerFactory
) -> None:
    env = queue_env(migrated, "celery", redis_url)
    worker = worker_factory(celery_command(queues=[env["BGMIGRATE_DEFAULT_QUEUE"]]), env=env)
    completed = run_example_tests(migrated, env)
    assert completed.returncode == 0, completed.stdout + completed.stderr + worker.log()
    # The worker, not the web process, ran both tasks.
    for name in ("process_document", "log_conversation"):
        assert re.search(rf"Task docapp\.processing\.{name}\[\w+\] succeeded", worker.log())
