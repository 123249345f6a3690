"""BGM119 tells another queue's task decorators from the app's own wrappers and bgmigrate's."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.codemods.test_rules import codes, scan_source

SOURCE = """
{setup}
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

{decorator}
def work(n: int) -> None:
    print(n)

@app.post("/work")
def post(n: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(work, n)
"""
OWN_TASK = """
import functools

def task(func):
    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        return func(*args, **kwargs)

    return wrapper
"""


@pytest.mark.parametrize(
    ("setup", "decorator"),
    [
        ("from celery import shared_task as task", "@task"),
        ("from dramatiq import actor", "@actor"),
        ("import dramatiq", "@dramatiq.actor(max_retries=3)"),
        ("from rq.decorators import job", "@job('default')"),
        ("from huey import RedisHuey\nhuey = RedisHuey()", "@huey.task()"),
        ("from invoke import task", "@task"),
        ("from prefect import flow", "@flow"),
        ("from celery import Celery\ncelery = Celery()\ntask = celery.task", "@task"),
    ],
)
def test_another_queues_task_is_reported(setup: str, decorator: str, tmp_path: Path) -> None:
    source = SOURCE.format(setup=setup, decorator=decorator)
    assert "BGM119" in codes(scan_source(source, tmp_path))


@pytest.mark.parametrize(
    ("setup", "decorator"),
    [
        (OWN_TASK, "@task"),
        ("import bgmigrate", "@bgmigrate.task"),
        ("import bgmigrate as bgm", "@bgm.task(timeout=60)"),
        ("import functools", "@functools.lru_cache"),
    ],
)
def test_own_wrappers_and_bgmigrates_task_are_not(
    setup: str, decorator: str, tmp_path: Path
) -> None:
    source = SOURCE.format(setup=setup, decorator=decorator)
    assert "BGM119" not in codes(scan_source(source, tmp_path))
