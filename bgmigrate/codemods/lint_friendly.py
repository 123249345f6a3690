"""Keep the rewritten file as clean for the project's own linter as it was before.

- a ``# noqa: ...`` on a ``BackgroundTasks`` import that the rewrite removes moves to the
  ``bgmigrate`` import that replaces it (the project silenced the same check, e.g. ruff's
  ``TC002``, for the same kind of import);
- an import kept only because the tests patch it by name gets ``# noqa: F401``;
- ``# bgmigrate:`` comments are wrapped to the project's line length;
- names the rewrite adds to an existing ``from bgmigrate import`` keep isort's order, and
  go on a line of their own when that import held only ``as`` names (isort's default keeps
  ``from bgmigrate import task as queued`` apart).
"""

from __future__ import annotations

import configparser
import textwrap
import tomllib
from pathlib import Path

import libcst as cst

from bgmigrate.codemods.names import RUNTIME

DEFAULT_LINE_LENGTH = 88
"""ruff's and black's default."""


def line_length(project: Path) -> int:
    """The line length the project's linter enforces: ``[tool.ruff]``, ``ruff.toml``,
    ``[tool.black]``, then ``setup.cfg``'s ``[flake8]``; else 88."""
    for name, keys in (
        ("ruff.toml", ("line-length",)),
        (".ruff.toml", ("line-length",)),
        ("pyproject.toml", ("tool", "ruff", "line-length")),
        ("pyproject.toml", ("tool", "black", "line-length")),
    ):
        value = _toml_value(project / name, keys)
        if isinstance(value, int) and value > 0:
            return value
    parser = configparser.ConfigParser()
    try:
        parser.read(project / "setup.cfg", encoding="utf-8")
        return int(parser.get("flake8", "max-line-length"))
    except (configparser.Error, ValueError, UnicodeDecodeError):
        return DEFAULT_LINE_LENGTH


def _toml_value(path: Path, keys: tuple[str, ...]) -> object:
    try:
        data: object = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return None
    for key in keys:
        data = data.get(key) if isinstance(data, dict) else None
    return data


def wrap_comment(text: str, width: int) -> list[str]:
    """``# bgmigrate: ...`` as comment lines of at most ``width`` characters (never less than
    40, so that a deeply indented statement still gets readable lines)."""
    if len(text) <= width:
        return [text]
    body = text.removeprefix("#").strip()
    lines = textwrap.wrap(body, max(width, 40) - 2, break_long_words=False)
    return [f"# {lines[0]}", *(f"#   {line}" for line in lines[1:])]


def _trailing_noqa(statement: cst.BaseStatement) -> cst.Comment | None:
    if isinstance(statement, cst.SimpleStatementLine):
        comment = statement.trailing_whitespace.comment
        if comment is not None and "noqa" in comment.value:
            return comment
    return None


def _imports(statement: cst.BaseStatement, names: frozenset[str]) -> bool:
    """A one-line import statement that binds one of ``names``."""
    if not isinstance(statement, cst.SimpleStatementLine):
        return False
    for small in statement.body:
        if isinstance(small, cst.ImportFrom | cst.Import) and not isinstance(
            small.names, cst.ImportStar
        ):
            bound = {a.evaluated_alias or a.evaluated_name for a in small.names}
            if bound & names:
                return True
    return False


def _is_runtime_import(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.ImportFrom)
        and isinstance(statement.body[0].module, cst.Name)
        and statement.body[0].module.value == RUNTIME
    )


def _code(module: cst.Module, statement: cst.BaseStatement) -> str:
    """The statement's code without the blank lines and comments above it."""
    if isinstance(statement, cst.SimpleStatementLine):
        statement = statement.with_changes(leading_lines=())
    return module.code_for_node(statement)


def carry_noqa(before: cst.Module, after: cst.Module, names: frozenset[str]) -> cst.Module:
    """Move the ``# noqa`` of a removed (or re-marked) ``BackgroundTasks`` import onto the new
    runtime import."""
    kept = {_code(after, s) for s in after.body}
    removed = [
        comment
        for statement in before.body
        if _imports(statement, names) and _code(before, statement) not in kept
        for comment in [_trailing_noqa(statement)]
        if comment is not None
    ]
    if not removed:
        return after
    body = list(after.body)
    for index, statement in enumerate(body):
        if _is_runtime_import(statement) and _trailing_noqa(statement) is None:
            assert isinstance(statement, cst.SimpleStatementLine)
            whitespace = cst.TrailingWhitespace(cst.SimpleWhitespace("  "), removed[0])
            body[index] = statement.with_changes(trailing_whitespace=whitespace)
            return after.with_changes(body=body)
    return after


def _type_order(alias: cst.ImportAlias) -> tuple[int, str]:
    """isort's (and ruff's) default ``order-by-type``: CONSTANTS, Classes, then functions."""
    name = str(alias.evaluated_name)
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[:1].isupper() else 2
    return kind, name


def _without_type_checking_codes(comment: cst.Comment | None) -> cst.Comment | None:
    """The ``# noqa`` without ``TC00x``: an import that also brings a name used at run time
    (``task``) is not reported as typing-only, so that code would be an unused ``noqa``."""
    if comment is None or "noqa:" not in comment.value:
        return comment
    head, _, codes = comment.value.partition("noqa:")
    kept = [c for c in codes.replace(",", " ").split() if not c.startswith(("TC00", "TCH00"))]
    if not kept:
        return None
    return comment.with_changes(value=f"{head}noqa: {', '.join(kept)}")


def sort_runtime_names(before: cst.Module, after: cst.Module) -> cst.Module:
    """Sort the names of a ``from bgmigrate import`` that the rewrite changed (libcst's
    ``AddImportsVisitor`` puts added names first; one it left as it was keeps its order), and
    drop a ``TC00x`` code from its ``noqa`` once it imports ``task``."""
    kept = {_code(before, s) for s in before.body}
    body = list(after.body)
    for index, statement in enumerate(body):
        if not _is_runtime_import(statement) or _code(after, statement) in kept:
            continue
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        assert isinstance(small, cst.ImportFrom)
        if isinstance(small.names, cst.ImportStar):
            continue
        names = list(small.names)
        ordered = sorted(names, key=_type_order)
        # the commas stay where they were: a parenthesised import keeps its layout
        reordered = [a.with_changes(comma=names[i].comma) for i, a in enumerate(ordered)]
        statement = statement.with_changes(body=[small.with_changes(names=reordered)])
        if any(a.evaluated_name == "task" for a in names):
            comment = _without_type_checking_codes(statement.trailing_whitespace.comment)
            whitespace = statement.trailing_whitespace
            if comment is None:
                whitespace = whitespace.with_changes(whitespace=cst.SimpleWhitespace(""))
            statement = statement.with_changes(
                trailing_whitespace=whitespace.with_changes(comment=comment)
            )
        body[index] = statement
    return after.with_changes(body=body)


def _imported(statement: cst.BaseStatement) -> list[cst.ImportAlias]:
    """The names of a ``from bgmigrate import`` (none for a star or another statement)."""
    if not _is_runtime_import(statement):
        return []
    assert isinstance(statement, cst.SimpleStatementLine)
    node = statement.body[0]
    assert isinstance(node, cst.ImportFrom)
    return [] if isinstance(node.names, cst.ImportStar) else list(node.names)


def _from_runtime(
    statement: cst.SimpleStatementLine, names: list[cst.ImportAlias]
) -> cst.SimpleStatementLine:
    """``statement`` importing only ``names`` (the last without its comma)."""
    node = statement.body[0]
    assert isinstance(node, cst.ImportFrom)
    names[-1] = names[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
    return statement.with_changes(body=[node.with_changes(names=names)])


def split_aliased(before: cst.Module, after: cst.Module) -> cst.Module:
    """A ``from bgmigrate import a as b`` the rewrite added plain names to: those names on a
    ``from bgmigrate import`` line of their own, right above it."""
    aliased_only = [
        {(a.evaluated_name, a.evaluated_alias) for a in names}
        for names in map(_imported, before.body)
        if names and all(a.asname is not None for a in names)
    ]
    body: list[cst.BaseStatement] = []
    for statement in after.body:
        names = _imported(statement)
        plain = [a for a in names if a.asname is None]
        aliased = [a for a in names if a.asname is not None]
        kept = {(a.evaluated_name, a.evaluated_alias) for a in aliased}
        if not (plain and aliased and kept in aliased_only):
            body.append(statement)
            continue
        assert isinstance(statement, cst.SimpleStatementLine)
        added = _from_runtime(statement, plain).with_changes(
            trailing_whitespace=cst.TrailingWhitespace()
        )
        body += [added, _from_runtime(statement, aliased).with_changes(leading_lines=())]
    return after.with_changes(body=body)


class _Uses(cst.CSTVisitor):
    """Counts uses of names outside import statements."""

    def __init__(self, names: frozenset[str]) -> None:
        self.names = names
        self.found: set[str] = set()

    def visit_Import(self, node: cst.Import) -> bool:
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        return False

    def visit_Name(self, node: cst.Name) -> None:
        if node.value in self.names:
            self.found.add(node.value)


def unused(module: cst.Module, names: frozenset[str]) -> frozenset[str]:
    """Those of ``names`` that the module uses nowhere but in import statements."""
    uses = _Uses(names)
    module.visit(uses)
    return names - uses.found


def mark_kept_for_tests(module: cst.Module, names: frozenset[str]) -> cst.Module:
    """``# noqa: F401`` on a one-name ``BackgroundTasks`` import the module no longer uses
    (kept because a test patches it by name); any other ``noqa`` of it is now unused."""
    idle = unused(module, names)
    body = list(module.body)
    for index, statement in enumerate(body):
        if not _imports(statement, idle) or _imports(statement, names - idle):
            continue
        assert isinstance(statement, cst.SimpleStatementLine)
        small = statement.body[0]
        if not isinstance(small, cst.ImportFrom) or isinstance(small.names, cst.ImportStar):
            continue
        if len(statement.body) != 1 or len(small.names) != 1:
            continue
        comment = cst.Comment("# noqa: F401  (tests patch it by name)")
        whitespace = cst.TrailingWhitespace(cst.SimpleWhitespace("  "), comment)
        body[index] = statement.with_changes(trailing_whitespace=whitespace)
    return module.with_changes(body=body)
