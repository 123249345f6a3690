"""BGM101 long-running: the task makes calls that can outgrow the in-process limit.

Network and HTTP clients, LLM and embedding APIs, ``time.sleep``, subprocesses, file
parsers and code loaded at run time (``spec.loader.exec_module``, ``runpy``: the
``slow-calls`` setting), and loops over data of unknown size (query results, file
trees, streamed lines, ``while True``: the ``unbounded-loops`` setting) make a task long, and
long tasks hold a worker thread of the web process, are lost on deploy and have no timeout.
Move the task to a queue. A task that catches and only logs every error (BGM116) is allowed
to fail: one request of it (a cache warm-up) stays in-process, only calls it repeats in a
loop and loops over data of unknown size make it long.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def log_event(name: str) -> None:
    for attempt in range(3):
        print(name, attempt)

@app.post("/events")
def create(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(log_event, "created")
""",
)
INVALID = (
    Invalid(
        """
import requests
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def fetch(url: str) -> None:
    requests.get(url, timeout=10)

@app.post("/fetch")
def start(url: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(fetch, url)
""",
        line=11,
        column=4,
    ),
    Invalid(
        """
from pathlib import Path
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def reindex(root: str) -> None:
    for path in Path(root).rglob("*.md"):
        print(path)

@app.post("/reindex")
def start(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(reindex, "/srv/docs")
""",
        line=12,
        column=4,
    ),
    Invalid(
        """
import time
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

@app.post("/wait")
async def wait(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(time.sleep, 60)
""",
        line=8,
        column=4,
    ),
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding per slow call the task makes, and per loop over data of unknown size (for
    a task allowed to fail, BGM116, only the calls it repeats in a loop)."""
    patterns = ctx.config.slow_calls + ctx.config.extend_slow_calls
    for traced in ctx.matching(patterns):
        if ctx.best_effort and not traced.repeated:
            continue  # one request of a task allowed to fail (BGM116): short enough to stay
        loop = " in a loop" if traced.call.in_loop else ""
        message = f"calls {traced.call.name}(){loop}: likely to outgrow the in-process limit"
        yield ctx.call_finding(RULE.code, traced, message)
    for traced in ctx.matching(ctx.config.unbounded_loops, ctx.loops):
        what = traced.call.name if traced.call.name == "while True" else f"{traced.call.name}()"
        message = f"loops over {what}: data of unknown size, no bound on the run time"
        yield ctx.call_finding(RULE.code, traced, message)


RULE = RuleSpec(
    name="long-running",
    summary="The task makes calls that can outgrow the in-process limit (network, LLM, sleep).",
    effect=Effect.MIGRATE,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
