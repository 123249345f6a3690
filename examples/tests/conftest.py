"""Fixtures for the example app's own tests.

Each test gets a fresh database, unless ``DOCAPP_DB`` is set: then the tests share it with the
workers that run the app's tasks in other processes (the tests never depend on its history).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from docapp.main import app


@pytest.fixture
def client(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[TestClient]:
    if "DOCAPP_DB" not in os.environ:
        monkeypatch.setenv("DOCAPP_DB", str(tmp_path / "docapp.sqlite3"))
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def eventually() -> Callable[[Callable[[], object]], object]:
    """Poll a condition until it holds (tasks may run in another process), or fail."""

    def wait(condition: Callable[[], object], timeout: float = 20.0) -> object:
        deadline = time.monotonic() + timeout
        while not (value := condition()):
            assert time.monotonic() < deadline, "the background work did not happen in time"
            time.sleep(0.02)
        return value

    return wait
