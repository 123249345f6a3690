"""Per-call options in a task message: the timeout and retry policy ``Task.using()`` set.

A worker runs a task with the options it registered. What a call changed with ``using()``
travels in the message under :data:`FIELD` — a keyword argument no Python parameter can be
named — and wins over them. Queue, priority and the due time travel as broker fields, and the
idempotency key is enforced at enqueue, so those need nothing here.
"""

from __future__ import annotations

import dataclasses
import sys
from collections.abc import Mapping
from typing import Any

from bgmigrate.errors import ConfigError, UnsupportedOption
from bgmigrate.registry import registry
from bgmigrate.retry import RetryPolicy
from bgmigrate.task import Task

FIELD = "bgmigrate:options"
"""Keyword argument of a task message that carries the call's own timeout and retry policy."""


def changed_options(task: Task[Any, Any]) -> dict[str, Any]:
    """The JSON form of ``task``'s timeout and retry policy where they differ from those of
    the task registered under its name (empty for a registered task used as it is)."""
    registered = registry.get(task.name) if task.name in registry else None
    if registered is None or registered is task:
        return {}
    changed: dict[str, Any] = {}
    if task.options.timeout != registered.options.timeout:
        changed["timeout"] = task.options.timeout
    if task.options.retry != registered.options.retry:
        changed["retry"] = _encode_retry(task.options.retry)
    return changed


def check_call_options(task: Task[Any, Any], backend: str) -> None:
    """Refuse, at the call, per-call options a queue worker cannot apply.

    A worker's own backstops (Celery's registered time limits, arq's job timeout and
    in-progress mark) are sized from the registered timeout, so a call may shorten it but
    not lift or lengthen it; ``retry_on`` types must be module-level classes, which the worker
    finds by name among the modules it has loaded.
    """
    changed = changed_options(task)
    registered = registry.get(task.name).options.timeout if changed else None
    if "timeout" in changed and registered is not None:
        timeout = changed["timeout"]
        if timeout is None or timeout > registered:
            raise UnsupportedOption(
                f"task {task.name!r}: a call on the {backend} backend may shorten the "
                f"registered timeout ({registered:g} s), not lift or lengthen it "
                f"(got {timeout}); raise @task(timeout=...) and shorten it per call instead"
            )
    for name in (changed.get("retry") or {}).get("retry_on", []):
        _resolve(name, fix="define the exception class at module level")


def with_call_options(
    task: Task[Any, Any], kwargs: Mapping[str, Any]
) -> tuple[Task[Any, Any], dict[str, Any]]:
    """The task as the message's call configured it, and the call's own keyword arguments."""
    call_kwargs = dict(kwargs)
    changed = call_kwargs.pop(FIELD, None)
    if not changed:
        return task, call_kwargs
    options = task.options
    if "timeout" in changed:
        options = dataclasses.replace(options, timeout=changed["timeout"])
    if "retry" in changed:
        options = dataclasses.replace(options, retry=_decode_retry(changed["retry"]))
    return dataclasses.replace(task, options=options), call_kwargs


def _encode_retry(policy: RetryPolicy | None) -> dict[str, Any] | None:
    if policy is None:
        return None
    fields = dataclasses.asdict(policy)
    fields["retry_on"] = [f"{kind.__module__}:{kind.__qualname__}" for kind in policy.retry_on]
    return fields


def _decode_retry(data: dict[str, Any] | None) -> RetryPolicy | None:
    if data is None:
        return None
    fix = "import the module that defines it from a task module"
    retry_on = tuple(_resolve(name, fix=fix) for name in data["retry_on"])
    return RetryPolicy(**{**data, "retry_on": retry_on})


def _resolve(name: str, *, fix: str) -> type[BaseException]:
    """The exception class ``module:qualname`` among loaded modules (a message never makes a
    worker import anything)."""
    module, _, qualname = name.partition(":")
    found: Any = sys.modules.get(module)
    for part in qualname.split("."):
        found = getattr(found, part, None)
    if not (isinstance(found, type) and issubclass(found, BaseException)):
        raise ConfigError(f"retry_on type {name!r} is not a loaded exception class: {fix}")
    return found
