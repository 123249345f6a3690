"""BGM201 observed-over-budget: the task ran longer than the in-process budget in production.

With ``scan --evidence STATS.json`` (the file the in-process backend writes at
``BGMIGRATE_STATS_PATH``; several files merge), a task that took longer than
``BGMIGRATE_INPROCESS_BUDGET`` is reported with its run count and duration percentiles:
measured beats guessed from names. On a queue it gets a timeout and its own workers.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, RuleSpec, SiteContext
from bgmigrate.codemods.rules._observed import EVIDENCE, INVALID, VALID, observed_finding


def check(ctx: SiteContext) -> Iterator[Finding]:
    """A finding when the task ran over the in-process budget."""
    stats = ctx.observed
    if stats is None or not stats.over_budget:
        return
    duration = stats.duration
    yield observed_finding(
        ctx,
        RULE.code,
        f"{stats.over_budget} of {stats.runs} runs over budget "
        f"(p50 {duration.quantile(0.5):.3g} s, p95 {duration.quantile(0.95):.3g} s, "
        f"max {duration.maximum:.3g} s)",
    )


RULE = RuleSpec(
    name="observed-over-budget",
    summary="Runtime statistics (--evidence) show the task ran over the in-process budget.",
    effect=Effect.MIGRATE,
    check=check,
    valid=VALID,
    invalid=INVALID,
    evidence=EVIDENCE,
)
