"""A rewritten app (no ``@task``, no lifespan) passes its own suite's thread-leak check."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.cli.test_rewrite import rewrite
from tests.codemods.golden import chdir

APP = """
import asyncio

from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
done: list[str] = []


def write_log(message: str) -> None:
    done.append(message)


async def notify(message: str) -> None:
    await asyncio.sleep(0)
    done.append(message)


@app.post("/orders")
def create_order(background_tasks: BackgroundTasks) -> dict[str, str]:
    background_tasks.add_task(write_log, "logged")
    background_tasks.add_task(notify, "notified")
    return {"status": "ok"}


@app.post("/async-orders")
async def create_async_order(background_tasks: BackgroundTasks) -> dict[str, str]:
    background_tasks.add_task(write_log, "logged")
    return {"status": "ok"}
"""

# What real suites do (pytest-threadleak, or a conftest like this one): every thread a test
# starts must be gone when it ends. A thread that is already stopping (anyio's worker threads
# exit just after their event loop closes) gets a grace period, as such plugins give it; one
# that stays (a pool kept for the next request) does not end in it.
CONFTEST = """
import threading

import pytest


@pytest.fixture(autouse=True)
def no_leaked_threads():
    before = set(threading.enumerate())
    yield
    for thread in [t for t in threading.enumerate() if t not in before]:
        thread.join(timeout=5)
    leaked = sorted(t.name for t in threading.enumerate() if t not in before)
    print(f"leaked threads: {len(leaked)}")
    assert not leaked, f"threads outlive the test: {leaked}"
"""

TESTS = """
from fastapi.testclient import TestClient

from app import app, done


def test_an_order_runs_its_tasks_after_the_response():
    with TestClient(app) as client:
        assert client.post("/orders").json() == {"status": "ok"}
    assert done[-2:] == ["logged", "notified"]


def test_a_client_without_a_with_block():
    client = TestClient(app)
    for _ in range(3):
        assert client.post("/orders").status_code == 200
    assert done[-2:] == ["logged", "notified"]


def test_an_async_endpoint():
    with TestClient(app) as client:
        assert client.post("/async-orders").status_code == 200
    assert done[-1] == "logged"
"""


def _write_app(root: Path) -> None:
    for name, text in {"app.py": APP, "conftest.py": CONFTEST, "test_app.py": TESTS}.items():
        (root / name).write_text(textwrap.dedent(text).lstrip())


def _run_its_suite(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BGMIGRATE_")}
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-s", "-q", "test_app.py"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_rewritten_app_without_lifespan_leaves_no_thread_behind(tmp_path: Path) -> None:
    _write_app(tmp_path)
    before = _run_its_suite(tmp_path)
    assert before.returncode == 0, before.stdout  # the check holds with BackgroundTasks
    with chdir(tmp_path):
        assert rewrite("app.py")[0] == 0
    rewritten = (tmp_path / "app.py").read_text()
    assert "background_tasks: Tasks" in rewritten
    assert "@task" not in rewritten
    assert "lifespan" not in rewritten

    after = _run_its_suite(tmp_path)

    assert after.returncode == 0, after.stdout
    assert "3 passed" in after.stdout
    assert after.stdout.count("leaked threads: 0") == 3
