"""BGM203 observed-queueing: the task waited long before it started.

With ``scan --evidence``, a task whose 95th-percentile wait between being handed over (the
handler returning) and starting exceeds ``QUEUE_DELAY_LIMIT`` seconds is reported: in-process
tasks of one request run one after another, and sync ones wait for a pool thread, so a task
stuck behind slow neighbours is late however quick it is. Workers run tasks side by side.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, RuleSpec, SiteContext
from bgmigrate.codemods.rules._observed import EVIDENCE, INVALID, VALID, observed_finding

QUEUE_DELAY_LIMIT = 5.0
"""Seconds of p95 waiting before start that count as queueing."""


def check(ctx: SiteContext) -> Iterator[Finding]:
    """A finding when the task's p95 wait before starting is over the limit."""
    stats = ctx.observed
    if stats is None or stats.queue_delay.quantile(0.95) <= QUEUE_DELAY_LIMIT:
        return
    delay = stats.queue_delay
    yield observed_finding(
        ctx,
        RULE.code,
        f"waited before starting: p95 {delay.quantile(0.95):.3g} s, max {delay.maximum:.3g} s "
        f"over {stats.runs} runs (limit {QUEUE_DELAY_LIMIT:g} s)",
    )


RULE = RuleSpec(
    name="observed-queueing",
    summary="Runtime statistics (--evidence) show the task waited long before starting.",
    effect=Effect.MIGRATE,
    check=check,
    valid=VALID,
    invalid=INVALID,
    evidence=EVIDENCE,
)
