"""The libcst rewrite of one file, following its ``FilePlan``.

Only planned nodes change: parameter annotations, class attribute annotations of
class-based views, ``@task`` decorators, ``# bgmigrate:`` comments and imports. Everything else
(formatting, comments, line endings, BOM, encoding declaration) is libcst's faithful round trip.
"""

from __future__ import annotations

import ast
import dataclasses
import re

import libcst as cst
from libcst.codemod import CodemodContext, VisitorBasedCodemodCommand
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import PositionProvider

from bgmigrate.codemods.import_placement import (
    imports_from_runtime,
    keep_group_breaks,
    place_runtime_import,
)
from bgmigrate.codemods.lint_friendly import (
    carry_noqa,
    mark_kept_for_tests,
    sort_runtime_names,
    split_aliased,
    unused,
    wrap_comment,
)
from bgmigrate.codemods.names import RUNTIME
from bgmigrate.codemods.plan import FilePlan
from bgmigrate.codemods.routes import ROUTE_METHODS
from bgmigrate.codemods.source_text import parse_quietly
from bgmigrate.codemods.task_decorator import configure, dotted, new_decorator
from bgmigrate.codemods.type_checking import move_into_type_checking
from bgmigrate.codemods.type_fixes import add_hints
from bgmigrate.errors import BgmigrateError


class RewriteError(BgmigrateError):
    """A file could not be rewritten (it does not parse, or the result would not)."""


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
        return self.node if dotted(updated) in self.names else updated

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


def _runtime_locals(tree: cst.Module, imports: tuple[tuple[str, str], ...]) -> dict[str, str]:
    """What the module's top-level imports call bgmigrate and its names (``imports``: local name
    -> what it imports): ``{"bgmigrate": "bgm", "bgmigrate.task": "queued"}``."""
    top_level = _top_level_imports(tree)
    found: dict[str, str] = {}
    for local, qual in imports:
        if local in top_level and qual.partition(".")[0] == RUNTIME:
            found.setdefault(qual, local)
    return found


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
        self.unused: set[str] = set()
        self.configured: set[str] = set()
        """Qualnames whose ``@task`` got settings written."""
        """bgmigrate names whose last use this rewrite may have removed."""
        self.runtime_locals: dict[str, str] = {}
        """What the module already calls bgmigrate and its names (see ``_runtime_locals``)."""
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
        positional = [self._param(qualname, p) for p in params.params]
        new_params = params.with_changes(
            params=self._drop_defaults(qualname, positional, bool(params.posonly_params)),
            posonly_params=[self._param(qualname, p) for p in params.posonly_params],
            kwonly_params=self._drop_defaults(
                qualname, [self._param(qualname, p) for p in params.kwonly_params], keyword=True
            ),
        )
        updated = updated.with_changes(params=new_params)
        return self._decorate(qualname, updated)

    def _decorate(self, qualname: str, function: cst.FunctionDef) -> cst.FunctionDef:
        """Add ``@task`` with its settings, or give a bare ``@task`` (or the one an earlier
        rewrite configured) its measured settings."""
        settings = self.plan.task_settings.get(qualname)
        retry_policy = self._spell("RetryPolicy")
        if qualname in self.plan.decorate:
            self.used.add("task")
            decorator = new_decorator(self._spell("task"), retry_policy, settings)
            configured = function.with_changes(decorators=[decorator, *function.decorators])
        elif settings is not None:
            imports = dict(self.plan.facts.imports)
            configured = configure(function, retry_policy, settings, imports)
        else:
            return function
        if settings is None or configured is function:
            return configured
        self.configured.add(qualname)
        if settings.retry is not None:
            self.used.add("RetryPolicy")
        else:
            # An earlier proposal's retry may be gone: its import goes too, if nothing uses it.
            self.unused.add("RetryPolicy")
        return configured

    def _spell(self, name: str) -> str:
        """How this file spells bgmigrate's ``name``: as an import already there names it
        (``queued`` for ``from bgmigrate import task as queued``), else qualified when the bare
        name is taken (``bgm.task`` after ``import bgmigrate as bgm``), else bare."""
        qualified = f"{RUNTIME}.{name}"
        if qualified in self.runtime_locals:
            return self.runtime_locals[qualified]
        if self.plan.qualified:
            return f"{self.runtime_locals.get(RUNTIME, RUNTIME)}.{name}"
        return name

    def _imports_needed(self) -> list[str]:
        """The names used that no import of the module gives yet (``""``: ``import bgmigrate``)."""
        missing = sorted(n for n in self.used if f"{RUNTIME}.{n}" not in self.runtime_locals)
        if not self.plan.qualified:
            return missing
        return [""] if missing and RUNTIME not in self.runtime_locals else []

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

    def _drop_defaults(
        self,
        qualname: str,
        params: list[cst.Param],
        after_posonly: bool = False,
        *,
        keyword: bool = False,
    ) -> list[cst.Param]:
        """Drop ``= BackgroundTasks()`` and ``= None`` from parameters that became ``Tasks``
        (FastAPI injects them; the default is dead code), where Python allows it: a keyword-only
        parameter, or a positional one that no parameter with a default precedes."""
        kept: list[cst.Param] = []
        for param in params:
            dead = (
                self.plan.params.get((qualname, param.name.value)) == "Tasks"
                and param.default is not None
                and self._dead_default(param.default)
            )
            defaults_before = any(p.default is not None for p in kept)
            if dead and (keyword or not (defaults_before or after_posonly)):
                param = param.with_changes(default=None, equal=cst.MaybeSentinel.DEFAULT)
            kept.append(param)
        return kept

    def _dead_default(self, default: cst.BaseExpression) -> bool:
        """``None`` or ``BackgroundTasks()``."""
        if isinstance(default, cst.Name) and default.value == "None":
            return True
        return isinstance(default, cst.Call) and dotted(default.func) in self.names

    def leave_AnnAssign(self, original: cst.AnnAssign, updated: cst.AnnAssign) -> cst.AnnAssign:
        in_view = bool(self.scope) and not self.scope[-1][1] and self.views[-1]
        if not in_view:
            return updated
        return updated.with_changes(annotation=self._swap(updated.annotation, "Tasks"))

    def leave_SimpleStatementLine(
        self, original: cst.SimpleStatementLine, updated: cst.SimpleStatementLine
    ) -> cst.SimpleStatementLine:
        position = self.get_metadata(PositionProvider, original).start
        texts = self.plan.comments.get(position.line)
        if not texts:
            return updated
        present = {e.comment.value for e in updated.leading_lines if e.comment is not None}
        width = self.plan.line_length - position.column
        wrapped = [wrap_comment(t, width) for t in texts]
        extra = [
            cst.EmptyLine(indent=True, comment=cst.Comment(line))
            for lines in wrapped
            if lines[0] not in present
            for line in lines
        ]
        return updated.with_changes(leading_lines=[*updated.leading_lines, *extra])

    def transform_module_impl(self, tree: cst.Module) -> cst.Module:
        """Rewrite, then add the runtime imports used and drop unused BackgroundTasks imports."""
        self.runtime_locals = _runtime_locals(tree, self.plan.facts.imports)
        updated = tree.visit(self)
        for name in self._imports_needed():
            AddImportsVisitor.add_needed_import(self.context, RUNTIME, name or None)
        for name in self.unused - self.used:
            RemoveImportsVisitor.remove_unused_import(self.context, RUNTIME, name)
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


@dataclasses.dataclass(frozen=True)
class Rewritten:
    """One file's rewrite."""

    data: bytes
    """The rewritten bytes (the source object itself when nothing changes)."""
    configured: frozenset[str] = frozenset()
    """Qualnames whose ``@task`` got a timeout (and retry policy) written."""


def rewrite_source(source: bytes, plan: FilePlan) -> Rewritten:
    """The rewrite of one file."""
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
    rewriter = Rewriter(context, plan)
    result = rewriter.transform_module(add_hints(module, plan.hints, context))
    simple = frozenset(n for n in plan.facts.bg_local_names if "." not in n)
    first_party = module_name.partition(".")[0]
    result = place_runtime_import(keep_group_breaks(module, result), first_party, before=module)
    if not (plan.keep_imports or imports_from_runtime(module)):
        result = move_into_type_checking(result, unused(result, simple), first_party)
    if plan.named_in_tests:
        result = mark_kept_for_tests(result, simple)
    result = split_aliased(module, sort_runtime_names(module, carry_noqa(module, result, simple)))
    output = result.bytes
    if output == source:
        return Rewritten(source)
    try:
        parse_quietly(output, plan.facts.display_path)
    except SyntaxError as exc:
        raise RewriteError(f"the rewrite would not parse ({exc.msg}); file left unchanged") from exc
    return Rewritten(output, frozenset(rewriter.configured))
