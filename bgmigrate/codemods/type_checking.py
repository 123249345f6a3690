"""``RequestBatch`` imported under ``if TYPE_CHECKING:`` where the module's annotations are
postponed, as ruff's ``TC002`` and the project's own style want.

``RequestBatch`` annotates helpers only (endpoints and dependencies get ``Tasks``, which FastAPI
must resolve at run time), so in a module with ``from __future__ import annotations`` nothing
evaluates it at run time. A ``BackgroundTasks`` import of that block that nothing uses any more
is dropped with it.
"""

from __future__ import annotations

from collections.abc import Sequence

import libcst as cst

from bgmigrate.codemods.import_placement import place_runtime_import
from bgmigrate.codemods.names import RUNTIME


def _postponed(module: cst.Module) -> bool:
    return any(
        isinstance(s, cst.SimpleStatementLine)
        and isinstance(s.body[0], cst.ImportFrom)
        and isinstance(s.body[0].module, cst.Name)
        and s.body[0].module.value == "__future__"
        and not isinstance(s.body[0].names, cst.ImportStar)
        and any(a.evaluated_name == "annotations" for a in s.body[0].names)
        for s in module.body
    )


def _type_checking_block(module: cst.Module) -> int | None:
    """Index of the top-level ``if TYPE_CHECKING:`` (without ``else``) in the module body."""
    for index, statement in enumerate(module.body):
        if (
            isinstance(statement, cst.If)
            and statement.orelse is None
            and isinstance(statement.body, cst.IndentedBlock)
            and module.code_for_node(statement.test).endswith("TYPE_CHECKING")
        ):
            return index
    return None


def _is_ours(statement: cst.BaseStatement) -> bool:
    """``from bgmigrate import RequestBatch`` and nothing else."""
    if not isinstance(statement, cst.SimpleStatementLine) or len(statement.body) != 1:
        return False
    node = statement.body[0]
    return (
        isinstance(node, cst.ImportFrom)
        and isinstance(node.module, cst.Name)
        and node.module.value == RUNTIME
        and not isinstance(node.names, cst.ImportStar)
        and [a.evaluated_name for a in node.names] == ["RequestBatch"]
        and node.names[0].asname is None
    )


_Statement = cst.SimpleStatementLine | cst.BaseCompoundStatement


def _without(statements: Sequence[cst.BaseStatement], unused: frozenset[str]) -> list[_Statement]:
    """``statements`` without the ``unused`` names of their ``from`` imports."""
    kept: list[_Statement] = []
    for statement in statements:
        assert isinstance(statement, _Statement)  # every statement is one of the two
        node = statement.body[0] if isinstance(statement, cst.SimpleStatementLine) else None
        if not isinstance(node, cst.ImportFrom) or isinstance(node.names, cst.ImportStar):
            kept.append(statement)
            continue
        names = [a for a in node.names if (a.evaluated_alias or a.evaluated_name) not in unused]
        if len(names) == len(node.names):
            kept.append(statement)
        elif names:
            names[-1] = names[-1].with_changes(comma=node.names[-1].comma)
            assert isinstance(statement, cst.SimpleStatementLine)
            kept.append(statement.with_changes(body=[node.with_changes(names=names)]))
    return kept


def move_into_type_checking(
    module: cst.Module, unused: frozenset[str], first_party: str
) -> cst.Module:
    """Move a new ``from bgmigrate import RequestBatch`` into the ``if TYPE_CHECKING:`` block
    of a module with postponed annotations, dropping the block's ``unused`` imports."""
    block_index = _type_checking_block(module)
    body = list(module.body)
    ours = [i for i, s in enumerate(body) if _is_ours(s)]
    if block_index is None or len(ours) != 1 or not _postponed(module):
        return module
    statement = body.pop(ours[0])
    if ours[0] < len(body) and not _leading(body[ours[0]]):
        body[ours[0]] = body[ours[0]].with_changes(leading_lines=_leading(statement))
    block_index -= block_index > ours[0]
    block = body[block_index]
    assert isinstance(block, cst.If)
    assert isinstance(block.body, cst.IndentedBlock)
    assert isinstance(statement, cst.SimpleStatementLine)
    inner = _without(block.body.body, unused)
    inner.append(statement.with_changes(leading_lines=()))
    placed = place_runtime_import(cst.Module(body=inner), first_party)
    body[block_index] = block.with_changes(body=block.body.with_changes(body=placed.body))
    return module.with_changes(body=body)


def _leading(statement: cst.BaseStatement) -> Sequence[cst.EmptyLine]:
    assert isinstance(statement, cst.SimpleStatementLine | cst.BaseCompoundStatement)
    return statement.leading_lines
