"""The ``timeout=`` and ``RetryPolicy`` that ``rewrite`` writes on a ``@task``, and why.

In-process, a ``BackgroundTasks`` task has neither: it runs once, for as long as it likes. On a
queue, a task without a timeout that hangs holds a worker slot for ever (and on Celery with
Redis, past the visibility timeout, it is delivered again and runs twice); a task that must not
be lost wants retries. So ``rewrite`` proposes both, visibly in the diff, with a
``# bgmigrate:`` comment saying where each number came from:

- **timeout** from runtime evidence (``--evidence``): ``EVIDENCE_MARGIN`` times the longest run
  measured, at least ``MIN_TIMEOUT``, rounded up to a round duration (``round_up``). The
  longest run rather than a percentile: a timeout below a run that succeeded in production
  would turn a success into a failure, and the margin absorbs a slower worker and growing
  inputs. Without evidence: ``LONG_RUNNING_TIMEOUT`` for a task BGM101 calls long-running (as
  long as a default Celery-on-Redis deployment allows), else ``DEFAULT_TIMEOUT`` (arq's own
  default job timeout).
- **retries** only where losing the task costs more than running it twice: a task BGM102 calls
  must-not-lose gets ``MUST_NOT_LOSE_RETRY``, one whose measured runs failed (BGM202)
  ``FAILING_RETRY``. Any other task keeps one attempt, as in-process: a retry re-runs side
  effects, and a task that never was retried may not be idempotent.

Tasks ``rewrite`` decorates get them; a bare ``@task`` already there gets them only when
``--evidence`` measured the task (a measurement is new information; without one, a bare
``@task`` is the author's choice). A ``@task(...)`` with arguments is never changed.
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections import defaultdict
from collections.abc import Iterable

from bgmigrate.adapters.redelivery import held_seconds
from bgmigrate.codemods.audit import AuditedSite
from bgmigrate.codemods.model import Observed
from bgmigrate.retry import RetryPolicy
from bgmigrate.settings import Settings

DEFAULT_TIMEOUT = 300
"""Seconds, for a task with no evidence and no sign of being long (arq's default job timeout)."""
LONG_RUNNING_TIMEOUT = 3300
"""Seconds, for a task BGM101 calls long-running, with no evidence: the longest that Celery on
Redis runs without re-delivery under the default visibility timeout (3600 s), the hard-limit
grace and the longest wait of ``MUST_NOT_LOSE_RETRY`` included, rounded down to 5 minutes.
Longer needs a measurement and a higher visibility timeout, both deliberate."""
EVIDENCE_MARGIN = 2.0
"""The measured longest run is multiplied by this."""
MIN_TIMEOUT = 60
"""No timeout from evidence is shorter (a quick task's timeout guards against hangs only)."""
ROUND_STEPS = (60, 120, 180, 300, 600, 900, 1200, 1800, 2700, 3600)
"""Round durations a timeout is rounded up to; beyond the last, whole hours."""
MUST_NOT_LOSE_RETRY = RetryPolicy(max_attempts=5, backoff=10.0, jitter=0.5)
"""Waits of up to 10, 20, 40 and 80 s: rides out a restart of the service the task calls."""
FAILING_RETRY = RetryPolicy(max_attempts=3, backoff=10.0, jitter=0.5)
"""For a task whose runs failed in production: two more tries, 10 and 20 s apart."""
COMMENT = re.compile(r"# bgmigrate: (?:timeout (\d+) s|\d+ attempts):")
"""Every line :meth:`TaskSettings.comments` writes (group 1: the timeout): how a later rewrite
recognises its own proposal."""
DEFAULT_VISIBILITY_TIMEOUT: int = Settings.model_fields["visibility_timeout"].default
"""Celery's Redis visibility timeout unless ``BGMIGRATE_VISIBILITY_TIMEOUT`` says otherwise."""


@dataclasses.dataclass(frozen=True)
class TaskSettings:
    """The options proposed for one task and the reasons, for the decorator and its comment."""

    timeout: int
    timeout_reason: str
    retry: RetryPolicy | None
    retry_reason: str | None
    is_async: bool
    measured: bool
    """The proposal rests on runtime evidence (``--evidence``)."""

    def arguments(self, retry_policy: str) -> str:
        """The decorator's arguments, spelling ``RetryPolicy`` as ``retry_policy``."""
        text = f"timeout={self.timeout}"
        if self.retry is not None:
            text += f", retry={retry_policy}({_policy_arguments(self.retry)})"
        return text

    def comments(self) -> list[str]:
        """``# bgmigrate:`` lines saying where each number came from."""
        lines = [f"# bgmigrate: timeout {self.timeout} s: {self.timeout_reason}"]
        if self.retry is not None:
            lines.append(f"# bgmigrate: {self.retry.max_attempts} attempts: {self.retry_reason}")
        return lines

    def held(self) -> float:
        """The longest a Celery worker holds one message of the task (see ``redelivery``)."""
        return held_seconds(self.timeout, is_async=self.is_async, retry=self.retry)


def _policy_arguments(policy: RetryPolicy) -> str:
    """``max_attempts`` always (it is the point), the other fields where not the default."""
    default = RetryPolicy()
    changed = [
        f for f in ("backoff", "max_delay", "jitter") if getattr(policy, f) != getattr(default, f)
    ]
    return ", ".join(f"{name}={getattr(policy, name)!r}" for name in ("max_attempts", *changed))


def _seconds(value: float) -> str:
    return f"{value:.3g} s" if value < 1000 else f"{value:.0f} s"


def round_up(seconds: float) -> int:
    """The first round duration (``ROUND_STEPS``, then whole hours) at or above ``seconds``."""
    step = next((step for step in ROUND_STEPS if step >= seconds), None)
    return step if step is not None else math.ceil(seconds / 3600) * 3600


def _timeout(observed: Observed | None, rules: set[str]) -> tuple[int, str]:
    if observed is not None and observed.runs:
        longest = observed.duration_max
        timeout = round_up(max(MIN_TIMEOUT, EVIDENCE_MARGIN * longest))
        return timeout, (
            f"{EVIDENCE_MARGIN:g} x the longest of {observed.runs} measured runs "
            f"({_seconds(longest)}), rounded up"
        )
    if "BGM101" in rules:
        return LONG_RUNNING_TIMEOUT, "default for long-running tasks (BGM101), not measured"
    return DEFAULT_TIMEOUT, "default, not measured"


def _retry(observed: Observed | None, rules: set[str]) -> tuple[RetryPolicy | None, str | None]:
    if "BGM102" in rules:
        return MUST_NOT_LOSE_RETRY, "it must not be lost (BGM102)"
    if observed is not None and observed.failed:
        return FAILING_RETRY, f"{observed.failed} of {observed.runs} measured runs failed (BGM202)"
    return None, None


def propose(sites: Iterable[AuditedSite]) -> TaskSettings:
    """The options for the task that ``sites`` (all its call sites) run."""
    reports = [audited.report for audited in sites]
    rules = {finding.rule for report in reports for finding in report.findings}
    observed = next((r.observed for r in reports if r.observed is not None), None)
    timeout, timeout_reason = _timeout(observed, rules)
    retry, retry_reason = _retry(observed, rules)
    is_async = any(report.task_is_async for report in reports)
    measured = observed is not None and observed.runs > 0
    return TaskSettings(timeout, timeout_reason, retry, retry_reason, is_async, measured)


def proposals(sites: Iterable[AuditedSite]) -> dict[tuple[str, str], TaskSettings]:
    """Options for every task defined in the tree, by task key (the plan picks those it
    decorates)."""
    by_task: dict[tuple[str, str], list[AuditedSite]] = defaultdict(list)
    for audited in sites:
        if audited.task_key is not None:
            by_task[audited.task_key].append(audited)
    return {key: propose(group) for key, group in by_task.items()}


def checklist(written: Iterable[tuple[str, TaskSettings]]) -> list[str]:
    """What ``rewrite`` says about the settings it wrote (``where``, settings): which tasks got
    them, and each one whose timeout Celery on Redis would outlast by default."""
    written = list(written)
    if not written:
        return []
    where = ", ".join(place for place, _ in written)
    lines = [
        f"timeout/retry written on {where}",
        "  (the '# bgmigrate:' comments above each @task say where the numbers came from)",
    ]
    for place, settings in written:
        held = settings.held()
        if held > DEFAULT_VISIBILITY_TIMEOUT:
            lines.append(
                f"  - {place}: timeout {settings.timeout} s outlasts Celery's Redis visibility "
                f"timeout (default {DEFAULT_VISIBILITY_TIMEOUT} s): with Celery on Redis, set "
                f"BGMIGRATE_VISIBILITY_TIMEOUT={math.ceil(held)} or more on the app and every "
                "worker, or a run that long is delivered twice (bgmigrate doctor checks it)"
            )
    return lines
