"""BGM199 unused-suppression: a ``# bgmigrate: ignore[...]`` comment suppresses nothing.

A suppression left behind after the code changed hides the next real finding on its line.
Remove it. (Reported from the suppression comments themselves, not per call site.)
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, Invalid, RuleSpec, SiteContext

VALID = (
    """
import time
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def wait() -> None:
    time.sleep(60)

@app.post("/wait")
def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(wait)  # bgmigrate: ignore[BGM101]
""",
)
INVALID = (
    Invalid(
        """
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def log() -> None:
    print("hi")

@app.post("/log")
def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(log)  # bgmigrate: ignore[BGM101]
""",
        line=10,
        column=0,
    ),
)


def check(ctx: SiteContext) -> Iterator[Finding]:
    """Nothing per call site: unused suppressions are found by the audit pass."""
    return iter(())


RULE = RuleSpec(
    name="unused-suppression",
    summary="A bgmigrate ignore comment that suppresses nothing.",
    effect=Effect.INFO,
    check=check,
    valid=VALID,
    invalid=INVALID,
)
