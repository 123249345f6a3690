"""Tasks of the quickstart app; workers import this module (``BGMIGRATE_TASK_MODULES``)."""

from __future__ import annotations

import logging

from pydantic import BaseModel

from bgmigrate import RetryPolicy, task

logger = logging.getLogger(__name__)


class Summary(BaseModel):
    """What summarising a document found."""

    words: int
    first_line: str


@task(timeout=60, retry=RetryPolicy(max_attempts=3, backoff=2))
def summarize(text: str) -> Summary:
    """Summarise a document (a stand-in for parsing, embedding or an LLM call)."""
    lines = text.strip().splitlines()
    return Summary(words=len(text.split()), first_line=lines[0] if lines else "")


@task(timeout=10)
async def notify(email: str, message: str) -> None:
    """Tell a user something (a stand-in for sending an e-mail)."""
    logger.info("notify %s: %s", email, message)
