"""The libcst rewrite of one file, following its ``FilePlan``.

Only planned nodes change: parameter annotations, class attribute annotations of
class-based views, ``@task`` decorators, ``# bgmigrate:`` comments and imports. Everything else
(formatting, comments, line endings, BOM, encoding declaration) is libcst's faithful round trip.
"""

from __future__ import annotations

import ast
import re

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import PositionProvider

from bgmigrate.codemods.finder import parse_quietly
from bgmigrate.codemods.import_placement import imports_runtime, place_runtime_import
from bgmigrate.codemods.names import RUNTIME
from bgmigrate.codemods.plan import FilePlan
from bgmigrate.codemods.routes import ROUTE_METHODS
from bgmigrate.codemods.type_fixes import add_hints
from bgmigrate.errors import BgmigrateError


class RewriteError(BgmigrateError):
    """A file could not be rewritten (it does not parse, or the result would not)."""


def _dotted(node: cst.BaseExpression) -> str | None:
    if isinstance(node, cst.Name):
        return node.value
    if isinstance(node, cst.Attribute):
        base = _dotted(node.value)
        return f"{base}.{node.attr.value}" if base else None
    return None


class _AnnotationSwap(cst.CSTTransformer):
    """Replaces every BackgroundTasks name inside one annotation."""

    def __init__(self, names: frozenset[str], replacement: str) -> None:
        self.names = names
        self.replacement = replacement
        self.node = cst.parse_expression(replacement)
        self.pattern = re.compile(
            r"(?<![\w.])("
            + "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
            + r")(?![\w.])"
        )

    def leave_Name(self, original: cst.Name, updated: cst.Name) -> cst.BaseExpression:
        return self.node if updated.value in self.names else updated

    def leave_Attribute(
        self, original: cst.Attribute, updated: cst.Attribute
    ) -> cst.BaseExpression:
        return self.node if _dotted(updated) in self.names else updated

    def leave_SimpleString(
        self, original: cst.SimpleString, updated: cst.SimpleString
    ) -> cst.BaseExpression:
        prefix_len = len(updated.prefix) + len(updated.quote)
        inner = updated.value[prefix_len : -len(updated.quote)]
        changed = self.pattern.sub(self.replacement, inner)
        if changed == inner or not _is_expression(inner):
            # Only string annotations change, never prose (``Annotated[..., "docs"]``).
            return updated
        return updated.with_changes(value=updated.value[:prefix_len] + changed + updated.quote)


def _is_expression(text: str) -> bool:
    try:
        ast.parse(text.strip(), mode="eval")
    except SyntaxError:
        return False
    return True


def _top_level_imports(tree: cst.Module) -> set[str]:
    """Local names bound by import statements directly in the module body."""
    names: set[str] = set()
    for statement in tree.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import | cst.ImportFrom) and not isinstance(
                small.names, cst.ImportStar
            ):
                names.update(alias.evaluated_alias or alias.evaluated_name for alias in small.names)
    return names


def _is_view(node: cst.ClassDef) -> bool:
    """A class-based view: decorated (``@cbv(router)``) and holding route methods."""
    methods = [s for s in node.body.body if isinstance(s, cst.FunctionDef)]
    routes = [
        d
        for method in methods
        for d in method.decorators
        if isinstance(d.decorator, cst.Call)
        and isinstance(d.decorator.func, cst.Attribute)
        and d.decorator.func.attr.value in ROUTE_METHODS
    ]
    return bool(node.decorators and routes)


class Rewriter(VisitorBasedCodemodCommand):
    """Applies one ``FilePlan``."""

    DESCRIPTION = "Move BackgroundTasks to bgmigrate's Tasks/RequestBatch and @task."
    METADATA_DEPENDENCIES = (PositionProvider,)

    def __init__(self, context: CodemodContext, plan: FilePlan) -> None:
        super().__init__(context)
        self.plan = plan
        self.names = frozenset(plan.facts.bg_local_names)
        self.scope: list[tuple[str, bool]] = []
        """Enclosing ``(name, is_function)`` definitions."""
        self.used: set[str] = set()
        self.views: list[bool] = []
        """For each enclosing class: is it a class-based view (FastAPI injects its attributes)?"""

    def _qualname(self, name: str) -> str:
        parts = []
        for outer, is_function in self.scope:
            parts.append(outer)
            if is_function:
                parts.append("<locals>")
        return ".".join([*parts, name])

    def visit_ClassDef(self, node: cst.ClassDef) -> None:
        self.scope.append((node.name.value, False))
        self.views.append(_is_view(node))

    def leave_ClassDef(self, original: cst.ClassDef, updated: cst.ClassDef) -> cst.ClassDef:
        self.scope.pop()
        self.views.pop()
        return updated

    def visit_FunctionDef(self, node: cst.FunctionDef) -> None:
        self.scope.append((node.name.value, True))

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        self.scope.pop()
        qualname = self._qualname(original.name.value)
        params = updated.params
        new_params = params.with_changes(
            params=[self._param(qualname, p) for p in params.params],
            posonly_params=[self._param(qualname, p) for p in params.posonly_params],
            kwonly_params=[self._param(qualname, p) for p in params.kwonly_params],
        )
        updated = updated.with_changes(params=new_params)
        if qualname in self.plan.decorate:
            self.used.add("task")
            decorator = cst.Decorator(cst.parse_expression(self._spell("task")))
            updated = updated.with_changes(decorators=[decorator, *updated.decorators])
        return updated

    def _spell(self, name: str) -> str:
        """How this file spells bgmigrate's ``name`` (qualified when the bare name is taken)."""
        return f"{RUNTIME}.{name}" if self.plan.qualified else name

    def _swap(self, annotation: cst.Annotation, replacement: str) -> cst.Annotation:
        spelled = self._spell(replacement)
        swapped = annotation.annotation.visit(_AnnotationSwap(self.names, spelled))
        if swapped is not annotation.annotation:
            self.used.add(replacement)
        assert isinstance(swapped, cst.BaseExpression)
        return annotation.with_changes(annotation=swapped)

    def _param(self, qualname: str, param: cst.Param) -> cst.Param:
        replacement = self.plan.params.get((qualname, param.name.value))
        if replacement is None or param.annotation is None:
            return param
        return param.with_changes(annotation=self._swap(param.annotation, replacement))

    def leave_AnnAssign(self, original: cst.AnnAssign, updated: cst.AnnAssign) -> cst.AnnAssign:
        in_view = bool(self.scope) and not self.scope[-1][1] and self.views[-1]
        if not in_view:
            return updated
        return updated.with_changes(annotation=self._swap(updated.annotation, "Tasks"))

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        line = self.get_metadata(PositionProvider, original).start.line
        texts = self.plan.comments.get(line)
        if not texts:
            return updated
        present = {e.comment.value for e in updated.leading_lines if e.comment is not None}
        extra = [
            cst.EmptyLine(indent=True, comment=cst.Comment(t)) for t in texts if t not in present
        ]
        return updated.with_changes(leading_lines=[*updated.leading_lines, *extra])

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        """Rewrite, then add the runtime imports used and drop unused BackgroundTasks imports."""
        updated = tree.visit(self)
        if self.plan.qualified and self.used:
            AddImportsVisitor.add_needed_import(self.context, RUNTIME)
        for name in sorted(self.used) if not self.plan.qualified else ():
            AddImportsVisitor.add_needed_import(self.context, RUNTIME, name)
        if not self.plan.keep_imports:
            top_level = _top_level_imports(tree)
            for local, qual in self.plan.facts.imports:
                # Imports inside ``if TYPE_CHECKING:`` and the like stay: removing them would
                # leave an empty block behind.
                if local in self.names and local in top_level:
                    module, _, name = qual.rpartition(".")
                    asname = local if local != name else None
                    if module:
                        RemoveImportsVisitor.remove_unused_import(
                            self.context, module, name, asname
                        )
        return updated


def rewrite_source(source: bytes, plan: FilePlan) -> bytes:
    """The rewritten bytes of one file (the same object when nothing changes)."""
    try:
        module = cst.parse_module(source)
    except cst.ParserSyntaxError as exc:
        message = f"cannot parse: line {exc.raw_line}: {exc.message}"
        raise RewriteError(message) from exc
    module_name = plan.facts.module
    package = (
        module_name
        if plan.facts.display_path.endswith("__init__.py")
        else module_name.rpartition(".")[0]
    )
    context = CodemodContext(
        filename=plan.facts.display_path, full_module_name=module_name, full_package_name=package
    )
    result = Rewriter(context, plan).transform_module(add_hints(module, plan.hints, context))
    if not imports_runtime(module):
        result = place_runtime_import(result, module_name.partition(".")[0])
    output = result.bytes
    if output == source:
        return source
    try:
        parse_quietly(output, plan.facts.display_path)
    except SyntaxError as exc:
        raise RewriteError(f"the rewrite would not parse ({exc.msg}); file left unchanged") from exc
    return output
