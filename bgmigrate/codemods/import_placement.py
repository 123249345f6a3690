"""Put the import the rewrite adds where isort/ruff would: among the third-party imports.

libcst's ``AddImportsVisitor`` appends a new import after the last one at the top of the
module, which lands ``from bgmigrate import Tasks`` among the project's own imports (or the
standard library's, or after ``from fastapi import ...`` when the module already has
``import bgmigrate``). This moves it into the third-party group, in isort's order (``import``
lines first, then ``from`` lines, each alphabetical), or makes it a group of its own after the
standard library's when the file has no third-party imports. An existing ``bgmigrate`` import
that only got a name more keeps its place.
"""

from __future__ import annotations

import difflib
import sys
from collections.abc import Sequence

import libcst as cst

from bgmigrate.codemods.names import RUNTIME

_STDLIB = frozenset(sys.stdlib_module_names) | {"__future__"}


def _root(statement: cst.BaseStatement) -> str | None:
    """The top-level module an import statement imports from (``""`` if relative)."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return None
    node = statement.body[0]
    if isinstance(node, cst.ImportFrom):
        return "" if node.relative or node.module is None else _leftmost(node.module)
    if isinstance(node, cst.Import):
        return _leftmost(node.names[0].name)
    return None


def _leftmost(name: cst.BaseExpression) -> str | None:
    """``a`` for the dotted name ``a.b.c``."""
    while isinstance(name, cst.Attribute):
        name = name.value
    return name.value if isinstance(name, cst.Name) else None


def _sort_key(statement: cst.BaseStatement) -> tuple[int, str]:
    """isort's order within a section: ``import x`` lines first, then ``from x import``."""
    assert isinstance(statement, cst.SimpleStatementLine)
    return (isinstance(statement.body[0], cst.ImportFrom), _root(statement) or "")


def _group(root: str, first_party: str) -> int:
    """isort's section: 0 stdlib/future, 1 third-party, 2 first-party (incl. relative)."""
    if root in _STDLIB:
        return 0
    return 2 if root in ("", first_party) else 1


def _leading_imports(body: Sequence[cst.BaseStatement]) -> list[int]:
    """Indices of the import statements in the module's leading import block."""
    indices = []
    for index, statement in enumerate(body):
        if _root(statement) is not None:
            indices.append(index)
        elif not (index == 0 and _is_docstring(statement)):
            break
    return indices


def _is_docstring(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.SimpleString | cst.ConcatenatedString)
    )


def _with_leading(
    statement: cst.BaseStatement, lines: Sequence[cst.EmptyLine]
) -> cst.BaseStatement:
    return statement.with_changes(leading_lines=tuple(lines))


def _leading(statement: cst.BaseStatement) -> Sequence[cst.EmptyLine]:
    assert isinstance(statement, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    return statement.leading_lines


def _key(module: cst.Module, statement: cst.BaseStatement) -> str:
    """What a rewrite keeps of an import statement it changes: its kind and module."""
    assert isinstance(statement, cst.SimpleStatementLine)
    node = statement.body[0]
    if isinstance(node, cst.ImportFrom):
        name = module.code_for_node(node.module) if node.module else ""
        return f"from {'.' * len(node.relative)}{name}"
    assert isinstance(node, cst.Import)
    return f"import {module.code_for_node(node.names[0].name)}"


def keep_group_breaks(before: cst.Module, after: cst.Module) -> cst.Module:
    """``after`` with the blank lines above each import the rewrite removed given to the import
    that followed it (when it has none): the blank line between two import groups stays."""
    old = [before.body[i] for i in _leading_imports(before.body)]
    new = _leading_imports(after.body)
    matcher = difflib.SequenceMatcher(
        a=[_key(before, s) for s in old],
        b=[_key(after, after.body[i]) for i in new],
        autojunk=False,
    )
    body: list[cst.BaseStatement] = list(after.body)
    for tag, first, _, target, _ in matcher.get_opcodes():
        if tag != "delete" or target >= len(new) or _leading(body[new[target]]):
            continue
        blank = [line for line in _leading(old[first]) if line.comment is None]
        body[new[target]] = _with_leading(body[new[target]], blank)
    return after.with_changes(body=body)


def imports_from_runtime(module: cst.Module) -> bool:
    """Whether the module already has a top-level ``from bgmigrate import ...`` (names the
    rewrite needs are added to it)."""
    return any(
        _root(statement) == RUNTIME
        and isinstance(statement, cst.SimpleStatementLine)
        and isinstance(statement.body[0], cst.ImportFrom)
        for statement in module.body
    )


def _runtime_imports(body: Sequence[cst.BaseStatement]) -> list[int]:
    """Indices of the ``bgmigrate`` imports in the leading import block of ``body``."""
    return [i for i in _leading_imports(body) if _root(body[i]) == RUNTIME]


def place_runtime_import(
    module: cst.Module, first_party: str, before: cst.Module | None = None
) -> cst.Module:
    """Move the (single, newly added) ``bgmigrate`` import into the third-party group; with
    ``before`` (the module before the import was added) the one not in it, if one was added
    (not when a name was only added to an import already there)."""
    body: list[cst.BaseStatement] = list(module.body)
    ours = _runtime_imports(body)
    if before is not None:
        if len(ours) <= len(_runtime_imports(before.body)):
            return module
        old = {before.code_for_node(s).strip() for s in before.body}
        ours = [i for i in ours if module.code_for_node(body[i]).strip() not in old]
    if len(ours) != 1:
        return module
    statement = body.pop(ours[0])
    imports = _leading_imports(body)
    if not imports:
        return module
    sections = {i: _group(_root(body[i]) or "", first_party) for i in imports}
    third_party = [i for i in imports if sections[i] == 1]
    later = [i for i in third_party if _sort_key(body[i]) > _sort_key(statement)]
    if later:  # first in alphabetical order: take over the line's blank lines and comments
        body.insert(later[0], _with_leading(statement, _leading(body[later[0]])))
        body[later[0] + 1] = _with_leading(body[later[0] + 1], ())
    elif third_party:
        body.insert(third_party[-1] + 1, _with_leading(statement, ()))
    else:  # a third-party group of its own, after the standard library's
        stdlib = [i for i in imports if sections[i] == 0]
        position = stdlib[-1] + 1 if stdlib else imports[0]
        lines = [cst.EmptyLine()] if stdlib else _leading(body[position])
        body.insert(position, _with_leading(statement, lines))
        following = position + 1
        if following in {i + 1 for i in imports} and not _leading(body[following]):
            body[following] = _with_leading(body[following], [cst.EmptyLine()])
    return module.with_changes(body=body)
