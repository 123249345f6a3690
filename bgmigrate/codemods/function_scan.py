"""One function body: which names hold the BackgroundTasks object, its ``add_task`` calls,
where it is passed on, and hand-built ``BackgroundTasks()``/``BackgroundTask(...)`` uses."""

from __future__ import annotations

import ast
import dataclasses
from typing import Protocol

from bgmigrate.codemods.callables import Scope, classify, wrapped_task
from bgmigrate.codemods.effects import (
    Nodes,
    body_calls,
    body_loops,
    classes,
    location,
    mutation_after,
    own_nodes,
    state_writes,
)
from bgmigrate.codemods.facts import (
    Argument,
    Call,
    CallableKind,
    Location,
    OtherUse,
    Param,
    Pass,
    RawCallSite,
    StateWrite,
    TaskRef,
)
from bgmigrate.codemods.names import SINGLE_TASK, AnnotationReader, Resolver, dotted, matches
from bgmigrate.codemods.request_scope import (
    argument_kind,
    imported_annotations,
    scoped_locals,
    scoped_params,
)
from bgmigrate.codemods.static_types import LocalTypes

_CONSTRUCTED = (
    "BackgroundTasks() built by hand: its tasks run only if it is attached to a response; "
    "review it by hand"
)
_RESPONSE = (
    "BackgroundTasks attached to a response with background=: the rewrite cannot move it; "
    "review it by hand"
)
_UNATTACHED = (
    "BackgroundTasks() built by hand and never attached to a response (background=): "
    "the tasks added to it never run"
)


@dataclasses.dataclass
class ScanResult:
    """What one function body contributes to its file's facts."""

    at: Location
    bg_names: frozenset[str] = frozenset()
    call_sites: list[RawCallSite] = dataclasses.field(default_factory=list)
    other_uses: list[OtherUse] = dataclasses.field(default_factory=list)
    passes: list[Pass] = dataclasses.field(default_factory=list)
    self_attrs: set[str] = dataclasses.field(default_factory=set)
    calls: tuple[Call, ...] = ()
    state_writes: tuple[StateWrite, ...] = ()
    loops: tuple[Call, ...] = ()
    attached: bool = False


class ModuleView(Protocol):
    """What a function scan reads of its module's analysis (``finder.ModuleAnalysis``)."""

    @property
    def module(self) -> str:
        """The module's dotted name."""

    @property
    def resolver(self) -> Resolver:
        """The module's name resolution (imports, definitions)."""

    @property
    def reader(self) -> AnnotationReader:
        """Which annotations and names mean BackgroundTasks here."""

    @property
    def module_vars(self) -> set[str]:
        """Module-level names that are neither functions nor imports."""

    @property
    def module_instances(self) -> dict[str, str]:
        """Module-level names bound to a constructor's result -> the constructor."""

    @property
    def self_instances(self) -> dict[str, dict[str, str]]:
        """Class name -> attributes its methods set to an instance of a known class."""

    @property
    def scoped_aliases(self) -> dict[str, str]:
        """This module's aliases of request-scoped annotations -> what they mean."""

    def qualified_attrs(self) -> frozenset[str]:
        """``module.Class.attr`` for every class attribute known to hold the object."""


class FunctionScan:
    """Scans one function (or, with ``run_module``, a module's top-level statements)."""

    def __init__(
        self,
        analysis: ModuleView,
        node: ast.FunctionDef | ast.AsyncFunctionDef | None,
        qualname: str,
        class_name: str | None,
        attrs: set[str],
        outer: frozenset[str],
    ) -> None:
        self.analysis = analysis
        self.resolver = analysis.resolver
        self.node = node
        self.body: list[ast.stmt] = node.body if node else []
        self.nodes: Nodes = list(own_nodes(self.body))
        self.qualname = qualname
        self.attrs = attrs
        self.held_attrs = analysis.qualified_attrs()
        self.bg: set[str] = set(outer)
        self.constructed: set[str] = set()
        self.built_at: dict[int, str] = {}
        """``id`` of each ``BackgroundTasks()`` call bound to a name -> the name."""
        self.attached: set[str] = set()
        """Hand-built objects handed to a response (``background=``, returned, raised)."""
        self.scope = Scope(qualname, class_name, {}, {}, classes(analysis.module_instances))
        self.result = ScanResult(location(node) if node else Location(1, 0))
        self._scoped: dict[str, str] | None = None
        self._imported: dict[str, str] = {}
        self._types: LocalTypes | None = None

    def run(self, params: tuple[Param, ...]) -> ScanResult:
        """Scan the function body given its parameters."""
        assert self.node is not None
        self.bg -= {p.name for p in params}
        self.bg |= {p.name for p in params if p.bg}
        self._param_instances()
        self._bind_locals()
        self._visit()
        module_vars = self.analysis.module_vars
        # Methods are named by their class: ``self.x()`` in ``Service`` is ``mod.Service.x``,
        # ``client.get()`` with ``client: Client`` is ``Client.get``.
        owners = {**self.analysis.module_instances, **self.scope.instances}
        if self.scope.class_name:
            owners["self"] = owners["cls"] = self._local(self.scope.class_name)
            held = self.analysis.self_instances.get(self.scope.class_name, {})
            owners.update((f"self.{attr}", cls) for attr, cls in held.items())
        calls = body_calls(self.resolver, self.nodes, owners)
        # A call of a function defined in this body names it fully, so the audit follows it.
        nested = self.scope.nested_defs
        self.result.calls = tuple(
            dataclasses.replace(c, name=self._local(nested[c.name])) if c.name in nested else c
            for c in calls
        )
        self.result.loops = body_loops(self.resolver, self.nodes)
        self.result.state_writes = state_writes(self.nodes, module_vars, {p.name for p in params})
        self.result.bg_names = frozenset(self.bg)
        return self.result

    def run_module(self, tree: ast.Module) -> ScanResult:
        """Hand-built uses in module-level statements."""
        self.body = tree.body
        self.nodes = list(own_nodes(tree.body))
        self._bind_locals()
        self._visit()
        return self.result

    def _param_instances(self) -> None:
        assert self.node is not None
        args = self.node.args
        for arg in [*args.posonlyargs, *args.args, *args.kwonlyargs]:
            annotation = arg.annotation
            if isinstance(annotation, ast.Subscript):
                first = annotation.slice
                annotation = first.elts[0] if isinstance(first, ast.Tuple) else first
            self._instance(arg.arg, annotation)

    def _instance(self, name: str, node: ast.expr | None) -> None:
        text = dotted(node) if node is not None else None
        if text and text.rpartition(".")[2][:1].isupper():
            self.scope.instances[name] = self.resolver.qualify_dotted(text)

    def _bind_locals(self) -> None:
        for node, _, _ in self.nodes:
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                self.scope.nested_defs[node.name] = f"{self.qualname}.<locals>.{node.name}"
        for _ in range(2):
            for node, _, _ in self.nodes:
                if isinstance(node, ast.Assign):
                    for target in node.targets:
                        self._bind(target, node.value)
                elif isinstance(node, ast.AnnAssign | ast.NamedExpr) and node.value is not None:
                    self._bind(node.target, node.value)
                elif isinstance(node, ast.withitem) and node.optional_vars is not None:
                    self._bind(node.optional_vars, node.context_expr)

    def _bind(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Attribute) and dotted(target.value) == "self":
            if self._holds_bg(value):
                self.result.self_attrs.add(target.attr)
            return
        if not isinstance(target, ast.Name):
            return
        values = self.scope.assignments.setdefault(target.id, [])
        if value not in values:  # ``_bind_locals`` passes twice; nodes compare by identity
            values.append(value)
        if self._holds_bg(value):
            self.bg.add(target.id)
        elif self._constructs(value):
            self.constructed.add(target.id)
            self.built_at[id(value)] = target.id
        elif isinstance(value, ast.Call | ast.Await):
            self._result(target.id, value.value if isinstance(value, ast.Await) else value)
        elif isinstance(value, ast.Attribute):
            # ``service = container.instructions_service``: the attribute of a known instance
            # (the project pass follows the class attribute's annotation).
            head, _, rest = (dotted(value) or "").partition(".")
            if head in self.scope.instances and rest:
                self.scope.instances[target.id] = f"{self.scope.instances[head]}.{rest}"

    def _result(self, name: str, value: ast.expr) -> None:
        """``name`` holds an instance (``Service()``) or what a function returns."""
        if not isinstance(value, ast.Call):
            return
        self._instance(name, value.func)
        called = self.resolver.qualify(value.func)
        if name not in self.scope.instances and called is not None:
            self.scope.results[name] = called

    def _constructs(self, value: ast.expr) -> bool:
        return isinstance(value, ast.Call) and self.analysis.reader.is_bg_name(value.func)

    def _holds_bg(self, value: ast.expr) -> bool:
        if isinstance(value, ast.BoolOp):
            return any(self._holds_bg(v) for v in value.values)
        if isinstance(value, ast.IfExp):
            return self._holds_bg(value.body) or self._holds_bg(value.orelse)
        return self._is_receiver(value)

    def _is_receiver(self, node: ast.expr) -> bool:
        if isinstance(node, ast.Name):
            return node.id in self.bg
        if not isinstance(node, ast.Attribute):
            return False
        owner = dotted(node.value)
        if owner == "self":
            return node.attr in self.attrs
        cls = self.scope.instances.get(owner or "")
        return cls is not None and matches(f"{cls}.{node.attr}", self.held_attrs)

    def _visit(self) -> None:
        if self.constructed:  # rare: most bodies build no BackgroundTasks() of their own
            self.attached = {
                name for node, _, _ in self.nodes if (name := self._handed_on(node)) is not None
            }
        for node, _, parent in self.nodes:
            if isinstance(node, ast.Call):
                self._call(node, parent)

    def _handed_on(self, node: ast.AST) -> str | None:
        """The hand-built object ``node`` attaches to a response: ``background=tasks``,
        ``response.background = tasks``, ``return tasks``."""
        to_response = isinstance(node, ast.keyword) and node.arg == "background"
        to_attribute = isinstance(node, ast.Assign) and any(
            isinstance(t, ast.Attribute) and t.attr == "background" for t in node.targets
        )
        returned = isinstance(node, ast.Return)
        value = getattr(node, "value", None) if to_response or to_attribute or returned else None
        if isinstance(value, ast.Name) and value.id in self.constructed:
            return value.id
        return None

    def _call(self, node: ast.Call, parent: ast.AST | None) -> None:
        func = node.func
        if isinstance(func, ast.Attribute) and func.attr == "add_task":
            hand_built = isinstance(func.value, ast.Name) and func.value.id in self.attached
            if (hand_built or self._is_receiver(func.value)) and _task_arguments(node):
                self.result.call_sites.append(self._call_site(node, hand_built))
            return
        if self._constructs(node):
            self._constructed(node, parent)
            return
        if self.resolver.qualify(func) in SINGLE_TASK and (node.args or node.keywords):
            # ``BackgroundTask(func, *args, **kwargs)``: one task, audited like add_task.
            self.result.call_sites.append(self._call_site(node, hand_built=True))
        self._keywords(node)
        self._passes(node)

    def _constructed(self, node: ast.Call, parent: ast.AST | None) -> None:
        """A ``BackgroundTasks()`` built by hand: its ``add_task`` calls are the call sites
        when it reaches a response; built and never attached, its tasks never run."""
        name = self.built_at.get(id(node))
        if name in self.attached:
            return
        if name is not None:
            self.result.other_uses.append(OtherUse("unattached", location(node), _UNATTACHED))
            return
        in_response = isinstance(parent, ast.keyword) and parent.arg == "background"
        kind = "response_background" if in_response else "constructed"
        message = _RESPONSE if in_response else _CONSTRUCTED
        self.result.other_uses.append(OtherUse(kind, location(node), message))

    def _keywords(self, node: ast.Call) -> None:
        for keyword in node.keywords:
            value = keyword.value
            if keyword.arg != "background":
                continue
            if self._is_receiver(value):
                self.result.attached = True
                self.result.other_uses.append(
                    OtherUse("response_background", location(value), _RESPONSE)
                )

    def _passes(self, node: ast.Call) -> None:
        callee = self._callee(node.func)
        if callee is None:
            return
        for index, arg in enumerate(node.args):
            if self._is_receiver(arg):
                self.result.passes.append(Pass(callee, index, None, self.qualname))
        for keyword in node.keywords:
            if keyword.arg and keyword.arg != "background" and self._is_receiver(keyword.value):
                self.result.passes.append(Pass(callee, -1, keyword.arg, self.qualname))

    def _callee(self, func: ast.expr) -> str | None:
        if isinstance(func, ast.Attribute):
            base = dotted(func.value)
            if base == "self" and self.scope.class_name:
                return self._local(f"{self.scope.class_name}.{func.attr}")
            if base in self.scope.instances:
                return f"{self.scope.instances[base]}.{func.attr}"
            if isinstance(func.value, ast.Call):
                owner = self.resolver.qualify(func.value.func)
                return f"{owner}.{func.attr}" if owner else None
        return self.resolver.qualify(func)

    def _local(self, qualname: str) -> str:
        module = self.analysis.module
        return f"{module}.{qualname}" if module else qualname

    def _call_site(self, node: ast.Call, hand_built: bool = False) -> RawCallSite:
        given = _task_arguments(node)
        index = wrapped_task(self.resolver, given)
        first = given[index]
        if isinstance(first, ast.Starred):
            task = TaskRef(CallableKind.DYNAMIC, None, ast.unparse(first))
        else:
            task = classify(self.resolver, self.scope, first)
        if index:
            task = dataclasses.replace(task, text=f"{ast.unparse(given[0])}({task.text}, ...)")
        keywords = [(k.value, k.arg) for k in node.keywords if k.arg != "func" or node.args]
        rest = [*((arg, None) for arg in given[index + 1 :]), *keywords]
        arguments = tuple(self._argument(node, arg, keyword) for arg, keyword in rest)
        receiver = self._receiver(first) if task.kind is CallableKind.BOUND_METHOD else None
        return RawCallSite(location(node), self.qualname, task, arguments, receiver, hand_built)

    def _receiver(self, func: ast.expr) -> Argument | None:
        """The object of a bound-method task, when it is request-scoped."""
        if not isinstance(func, ast.Attribute):
            return None
        kind = argument_kind(func.value, self.scoped())
        if kind is None:
            return None
        return Argument(ast.unparse(func.value), location(func.value), kind)

    def scoped(self) -> dict[str, str]:
        """Request-scoped names of the function (parameters and locals), computed once."""
        if self._scoped is None:
            if self.node is None:  # module level: nothing belongs to a request
                self._scoped = {}
                return self._scoped
            aliases = self.analysis.scoped_aliases
            params = scoped_params(self.resolver, self.node.args, aliases)
            self._scoped = scoped_locals(self.resolver, self.body, params)
            self._imported = imported_annotations(self.resolver, self.node.args)
        return self._scoped

    def _argument(self, call: ast.Call, arg: ast.expr, keyword: str | None) -> Argument:
        scoped = self.scoped()
        name = arg.value if isinstance(arg, ast.Starred) else arg
        mutated, alias = None, None
        if isinstance(name, ast.Name):
            mutated = mutation_after(self.nodes, name.id, call.end_lineno or call.lineno)
            alias = self._imported.get(name.id)
        kind = argument_kind(arg, scoped)
        alias = alias if not kind else None
        static = self.local_types().infer(arg)
        return Argument(ast.unparse(arg), location(arg), kind, mutated, keyword, alias, static)

    def local_types(self) -> LocalTypes:
        """The static types of the function's names, read once (only bodies with call sites)."""
        if self._types is None:
            self._types = LocalTypes(self.resolver, self.node)
        return self._types


def _task_arguments(node: ast.Call) -> list[ast.expr]:
    """``add_task``'s positional arguments, the callable first (also when given as ``func=``)."""
    if node.args:
        return list(node.args)
    return [k.value for k in node.keywords if k.arg == "func"]
