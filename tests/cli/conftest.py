"""Helpers for CLI tests: small projects written into a temporary directory."""

from __future__ import annotations

import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.codemods.golden import chdir

SLOW_APP = """
import time
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def wait() -> None:
    time.sleep(60)

@app.post("/wait")
def post(background_tasks: BackgroundTasks):
    background_tasks.add_task(wait)
"""
QUIET_APP = """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def log() -> None:
    print("hi")

@app.get("/")
def index(background_tasks: BackgroundTasks):
    background_tasks.add_task(log)
"""

Write = Callable[[str, str], Path]


@pytest.fixture
def project(tmp_path: Path) -> Iterator[Write]:
    """Write files (dedented) under a fresh project directory that is also the cwd."""

    def write(name: str, text: str) -> Path:
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    with chdir(tmp_path):
        yield write
