"""Load on the in-process backend: every task runs, memory stays bounded."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

import bgmigrate
from bgmigrate import Tasks, task

REQUESTS = 1_000
TASKS_PER_REQUEST = 5

done: set[tuple[int, int]] = set()
done_lock = threading.Lock()


@task
def mark(request_number: int, index: int) -> None:
    with done_lock:
        done.add((request_number, index))


@task
async def amark(request_number: int, index: int) -> None:
    done.add((request_number, index))


def rss_bytes() -> int:
    """This process's resident set size now (Linux)."""
    pages = int(Path("/proc/self/statm").read_text().split()[1])
    return pages * 4096


@pytest.mark.slow
def test_a_thousand_requests_of_five_tasks_all_run_in_bounded_memory() -> None:
    app = FastAPI(lifespan=bgmigrate.lifespan)

    @app.post("/work/{number}")
    def work(number: int, tasks: Tasks) -> None:
        for index in range(TASKS_PER_REQUEST):
            tasks.add_task(mark if index % 2 else amark, number, index)

    done.clear()
    with TestClient(app) as client:
        for number in range(100):  # warm up caches, pools and allocator arenas
            client.post(f"/work/{-number - 1}")
        before = rss_bytes()
        for number in range(REQUESTS):
            assert client.post(f"/work/{number}").status_code == 200
        after = rss_bytes()
    ran = {(n, i) for n, i in done if n >= 0}
    assert len(ran) == REQUESTS * TASKS_PER_REQUEST
    growth_mib = (after - before) / 2**20
    print(f"RSS before {before / 2**20:.1f} MiB, after {after / 2**20:.1f} MiB")
    assert growth_mib < 16, f"RSS grew by {growth_mib:.1f} MiB over {REQUESTS} requests"
