"""The ``@task(timeout=..., retry=...)`` decorator the rewrite writes, in libcst terms.

A new decorator goes first, its ``# bgmigrate:`` comments right above it; a bare ``@task``
already there becomes the call, keeping its place and spelling (``@task``,
``@bgmigrate.task``, an alias); so does a ``@task(timeout=N, ...)`` that an earlier rewrite
wrote under ``# bgmigrate: timeout N s: ...`` and nobody changed since, with its comments
replaced. What the options are and why: :mod:`.long_tasks`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import libcst as cst

from bgmigrate.codemods.long_tasks import COMMENT, TaskSettings
from bgmigrate.codemods.names import TASK_DECORATOR


def _comment_lines(settings: TaskSettings) -> list[cst.EmptyLine]:
    return [cst.EmptyLine(indent=True, comment=cst.Comment(text)) for text in settings.comments()]


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
    return cst.Decorator(call, leading_lines=_comment_lines(settings))


def dotted(node: cst.BaseExpression) -> str | None:
    """``a.b.c`` for a name or an attribute chain of names, else ``None``."""
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


def _is_task(node: cst.BaseExpression, imports: Mapping[str, str]) -> bool:
    name = dotted(node)
    if name is None:
        return False
    head, dot, rest = name.partition(".")
    return f"{imports.get(head, head)}{dot}{rest}" == TASK_DECORATOR


def _ours(line: cst.EmptyLine) -> re.Match[str] | None:
    return COMMENT.match(line.comment.value) if line.comment is not None else None


def _proposed(call: cst.Call, lines: list[cst.EmptyLine]) -> bool:
    """Whether ``call`` still holds what an earlier rewrite wrote above it in ``lines``: only
    ``timeout=`` (and ``retry=``), the timeout the comment gives (not changed by hand)."""
    keywords = [arg.keyword.value if arg.keyword else None for arg in call.args]
    if "timeout" not in keywords or not set(keywords) <= {"timeout", "retry"}:
        return False
    timeout = next(arg.value for arg in call.args if arg.keyword and arg.keyword.value == "timeout")
    said = [match[1] for line in lines if (match := _ours(line)) and match[1]]
    return isinstance(timeout, cst.Integer) and said == [timeout.value]


def configure(
    function: cst.FunctionDef,
    retry_policy: str,
    settings: TaskSettings,
    imports: Mapping[str, str],
) -> cst.FunctionDef:
    """``function`` with its bare ``@task``, or the ``@task(...)`` an earlier rewrite proposed
    and nobody changed, called with ``settings`` (the same object when it has neither, or
    already says exactly that; ``imports``: local name -> what it imports)."""
    decorators = list(function.decorators)
    for index, decorator in enumerate(decorators):
        node = decorator.decorator
        # Comments above the first decorator belong to the function in libcst's tree.
        above = [*(function.leading_lines if index == 0 else ()), *decorator.leading_lines]
        if isinstance(node, cst.Call) and _is_task(node.func, imports) and _proposed(node, above):
            func = node.func
        elif _is_task(node, imports):
            func = node
        else:
            continue
        kept = [line for line in decorator.leading_lines if not _ours(line)]
        leading = list(function.leading_lines)
        if index == 0:
            leading = [*(line for line in leading if not _ours(line)), *_comment_lines(settings)]
        else:
            kept += _comment_lines(settings)
        call = _call(func, settings, retry_policy)
        decorators[index] = decorator.with_changes(decorator=call, leading_lines=kept)
        configured = function.with_changes(leading_lines=leading, decorators=decorators)
        return function if configured.deep_equals(function) else configured
    return function
