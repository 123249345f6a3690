"""BGM116 best-effort: the task catches and only logs every error.

A task whose whole body is ``try: ... except Exception: log(...)`` has said what it is: work
that is allowed to fail (warming a cache, a courtesy notification). Losing it on a crash or a
deploy is what its author already accepts for any error, so its writes and sends are not
"must not be lost" (BGM102 stays quiet), and one request of it is short enough to stay
in-process (BGM101 counts only the calls it repeats in a loop and loops over data of unknown
size). A handler that does more than log (marks a job failed, rolls back, re-raises) is not
best effort: the failure matters to someone.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Evidence, Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
import logging
import httpx
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
log = logging.getLogger(__name__)

def sync(item_id: str) -> None:
    try:
        httpx.post("https://vault.example.com/sync", json={"id": item_id})
    except Exception:
        log.exception("sync failed")
        raise

@app.post("/items")
def create(item_id: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(sync, item_id)
""",
)
INVALID = (
    Invalid(
        """
import logging
import httpx
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
log = logging.getLogger(__name__)

def warm_cache(item_id: str) -> None:
    \"\"\"Fetch the item once so that the next request finds it cached.\"\"\"
    try:
        httpx.post("https://vault.example.com/sync", json={"id": item_id})
    except Exception:
        log.exception("warm-up failed")

@app.post("/items")
def create(item_id: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(warm_cache, item_id)
""",
        line=17,
        column=4,
    ),
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """One finding, at the ``try``, for a task that catches and only logs every error."""
    if ctx.task is None or ctx.task.best_effort is None or ctx.task_path is None:
        return
    message = "catches and only logs every error: it is allowed to fail (best effort)"
    swallowing = Evidence(ctx.task_path, ctx.task.best_effort.line, "try: ... except Exception")
    yield Finding(
        RULE.code, message, None, ((ctx.site_evidence(), *ctx.task_evidence(), swallowing),)
    )


RULE = RuleSpec(
    name="best-effort",
    summary="The task catches and only logs every error: its work is allowed to fail.",
    effect=Effect.INFO,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
