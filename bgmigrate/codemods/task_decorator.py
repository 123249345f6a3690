"""The ``@task(timeout=..., retry=...)`` decorator the rewrite writes, in libcst terms.

A new decorator goes first, its ``# bgmigrate:`` comments right above it; a bare ``@task``
already there becomes the call, keeping its place and spelling (``@task``,
``@bgmigrate.task``, an alias). What the options are and why: :mod:`.long_tasks`.
"""

from __future__ import annotations

from collections.abc import Mapping

import libcst as cst

from bgmigrate.codemods.long_tasks import TaskSettings
from bgmigrate.codemods.names import TASK_DECORATOR


def _comment_lines(settings: TaskSettings, existing: list[cst.EmptyLine]) -> list[cst.EmptyLine]:
    present = {line.comment.value for line in existing if line.comment is not None}
    return [
        cst.EmptyLine(indent=True, comment=cst.Comment(text))
        for text in settings.comments()
        if text not in present
    ]


def _call(func: cst.BaseExpression, settings: TaskSettings, retry_policy: str) -> cst.Call:
    template = cst.parse_expression(f"f({settings.arguments(retry_policy)})")
    return cst.Call(func=func, args=cst.ensure_type(template, cst.Call).args)


def new_decorator(task: str, retry_policy: str, settings: TaskSettings | None) -> cst.Decorator:
    """``@task`` spelled ``task``, called with ``settings`` (``RetryPolicy`` spelled
    ``retry_policy``) and commented, when there are settings."""
    func = cst.parse_expression(task)
    if settings is None:
        return cst.Decorator(func)
    call = _call(func, settings, retry_policy)
    return cst.Decorator(call, leading_lines=_comment_lines(settings, []))


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a name or an attribute chain of names, else ``None``."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def is_bare_task(decorator: cst.Decorator, imports: Mapping[str, str]) -> bool:
    """Whether ``decorator`` is bgmigrate's ``@task`` without a call (``imports``: local name
    -> what it imports)."""
    name = dotted(decorator.decorator)
    if name is None:
        return False
    head, dot, rest = name.partition(".")
    return f"{imports.get(head, head)}{dot}{rest}" == TASK_DECORATOR


def configure_bare(
    function: cst.FunctionDef,
    retry_policy: str,
    settings: TaskSettings,
    imports: Mapping[str, str],
) -> cst.FunctionDef:
    """``function`` with its bare ``@task`` called with ``settings`` (the same object when it
    has none; ``imports``: local name -> what it imports)."""
    decorators = list(function.decorators)
    for index, decorator in enumerate(decorators):
        if is_bare_task(decorator, imports):
            call = _call(decorator.decorator, settings, retry_policy)
            existing = list(decorator.leading_lines)
            lines = [*existing, *_comment_lines(settings, existing)]
            decorators[index] = decorator.with_changes(decorator=call, leading_lines=lines)
            return function.with_changes(decorators=decorators)
    return function
