"""Parameters annotated ``bgmigrate.LocalFile``: files handed off to the task, which travel
with its job (see ``docs/files.md``). Removing one inside the task is cleanup of its own copy,
and a temporary file given to one is not tied to the web host."""

from __future__ import annotations

from bgmigrate.codemods.facts import Argument, CallableKind, FunctionFacts, Param
from bgmigrate.codemods.rules._base import SiteContext

LOCAL_FILE = frozenset({"bgmigrate.LocalFile", "bgmigrate.blobs.claim.LocalFile"})
"""The resolved names of the annotation."""
FILE_REMOVALS = ("os.remove", "os.unlink", "*.unlink")
"""Calls that remove one file (not a directory: a ``LocalFile`` is one file)."""


def handed_off(task: FunctionFacts | None) -> frozenset[str]:
    """Names of ``task``'s parameters annotated ``LocalFile``."""
    if task is None:
        return frozenset()
    return frozenset(param.name for param in task.params if param.annotation in LOCAL_FILE)


def receiving_param(ctx: SiteContext, argument: Argument, position: int) -> Param | None:
    """The task parameter that takes ``argument`` (the ``position``-th positional one)."""
    assert ctx.task is not None
    if argument.keyword is not None:
        return next((p for p in ctx.task.params if p.name == argument.keyword), None)
    shift = 1 if ctx.site.task.kind is CallableKind.BOUND_METHOD else 0
    return next((p for p in ctx.task.params if p.index == position + shift), None)


def given_to_handed_off(ctx: SiteContext) -> set[int]:
    """Indexes in the site's arguments of those given to a ``LocalFile`` parameter."""
    names = handed_off(ctx.task)
    if not names:
        return set()
    positional = [a for a in ctx.site.arguments if a.keyword is None]
    given = set()
    for index, argument in enumerate(ctx.site.arguments):
        position = positional.index(argument) if argument.keyword is None else -1
        param = receiving_param(ctx, argument, position)
        if param is not None and param.name in names:
            given.add(index)
    return given
