"""BGM202 observed-failing: the task failed in production.

With ``scan --evidence``, a task whose runs failed is reported with the failure count by
exception type. In-process, a failed task is only a log line; on a queue it is retried per its
``RetryPolicy`` and its failure is recorded where ``TaskHandle.status()`` can see it.
"""

from __future__ import annotations

from collections.abc import Iterator

from bgmigrate.codemods.model import Finding
from bgmigrate.codemods.rules._base import Effect, RuleSpec, SiteContext
from bgmigrate.codemods.rules._observed import EVIDENCE, INVALID, VALID, observed_finding


def check(ctx: SiteContext) -> Iterator[Finding]:
    """A finding when runs of the task failed."""
    stats = ctx.observed
    if stats is None or not stats.failed:
        return
    kinds = ", ".join(f"{n} {kind}" for kind, n in sorted(stats.failures.items()))
    yield observed_finding(ctx, RULE.code, f"{stats.failed} of {stats.runs} runs failed ({kinds})")


RULE = RuleSpec(
    name="observed-failing",
    summary="Runtime statistics (--evidence) show runs of the task failed.",
    effect=Effect.MIGRATE,
    check=check,
    valid=VALID,
    invalid=INVALID,
    evidence=EVIDENCE,
)
