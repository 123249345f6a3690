"""``bgmigrate.lifespan`` in the FastAPI app: ``FastAPI(lifespan=bgmigrate.lifespan)`` when the
app has no lifespan, or ``async with bgmigrate.lifespan(): yield`` nested in the app's own
``@asynccontextmanager`` lifespan. An app that starts with ``on_event`` handlers (which FastAPI
runs only without a lifespan) gets ours the same way, as event handlers registered right after
the module-level statement that builds the app: ``app.router.add_event_handler("startup",
bgmigrate.startup)`` and ``("shutdown", bgmigrate.shutdown)``. What cannot be done safely is
left as it is and the checklist says what to do."""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor

from bgmigrate.codemods.import_placement import place_runtime_import
from bgmigrate.codemods.names import RUNTIME

_OURS = f"{RUNTIME}.lifespan"
_OUR_EVENTS = tuple(f"{RUNTIME}.{event}" for event in ("startup", "shutdown"))
_BY_HAND = "enter `async with bgmigrate.lifespan():` around its yield"
_EVENT_HOOKS = ("on_event", "add_event_handler", "on_startup", "on_shutdown")


def _is_app(call: cst.Call) -> bool:
    func = call.func
    name = func.attr.value if isinstance(func, cst.Attribute) else getattr(func, "value", None)
    return name == "FastAPI"


def _lifespan_arg(call: cst.Call) -> cst.Arg | None:
    return next((a for a in call.args if a.keyword and a.keyword.value == "lifespan"), None)


class _Apps(cst.CSTVisitor):
    """Every ``FastAPI(...)`` call of the module."""

    def __init__(self) -> None:
        self.calls: list[cst.Call] = []

    def visit_Call(self, node: cst.Call) -> None:
        if _is_app(node):
            self.calls.append(node)


def _is_yield(statement: cst.BaseStatement) -> bool:
    return (
        isinstance(statement, cst.SimpleStatementLine)
        and len(statement.body) == 1
        and isinstance(statement.body[0], cst.Expr)
        and isinstance(statement.body[0].value, cst.Yield)
    )


class _Wire(cst.CSTTransformer):
    """Adds ``lifespan=bgmigrate.lifespan``, or nests ours around the yield of ``function``."""

    def __init__(self, function: str | None) -> None:
        self.function = function
        self.done = False

    def leave_Call(self, original: cst.Call, updated: cst.Call) -> cst.Call:
        if self.function is not None or not _is_app(updated) or _lifespan_arg(updated):
            return updated
        self.done = True
        no_space = cst.SimpleWhitespace("")
        arg = cst.Arg(
            cst.parse_expression(_OURS),
            keyword=cst.Name("lifespan"),
            equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space),
        )
        args = list(updated.args)
        if not args:
            return updated.with_changes(args=[arg])
        last = args[-1]
        if not isinstance(last.comma, cst.Comma) or "\n" not in _code(last.comma):
            # One line: ``FastAPI(title="x", lifespan=bgmigrate.lifespan)``.
            comma = cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
            return updated.with_changes(args=[*args[:-1], last.with_changes(comma=comma), arg])
        # One argument a line: ours goes last, in the same style (indent, trailing comma).
        between = args[-2].comma if len(args) > 1 else None
        if isinstance(between, cst.Comma):
            separator = between
        else:
            separator = cst.Comma(whitespace_after=updated.whitespace_before_args)
        args[-1] = last.with_changes(comma=separator)
        return updated.with_changes(args=[*args, arg.with_changes(comma=last.comma)])

    def leave_FunctionDef(
        self, original: cst.FunctionDef, updated: cst.FunctionDef
    ) -> cst.FunctionDef:
        if original.name.value != self.function or not isinstance(updated.body, cst.IndentedBlock):
            return updated
        body = list(updated.body.body)
        yields = [i for i, s in enumerate(body) if _is_yield(s)]
        if len(yields) != 1:
            return updated
        statement = body[yields[0]]
        assert isinstance(statement, cst.SimpleStatementLine)
        block = cst.With(
            items=[cst.WithItem(cst.parse_expression(f"{_OURS}()"))],
            body=cst.IndentedBlock([statement.with_changes(leading_lines=())]),
            asynchronous=cst.Asynchronous(),
            leading_lines=statement.leading_lines,
        )
        body[yields[0]] = block
        self.done = True
        return updated.with_changes(body=updated.body.with_changes(body=body))


def _code(node: cst.CSTNode) -> str:
    return cst.Module([]).code_for_node(node)


def _context_managers(module: cst.Module) -> set[str]:
    """Module-level functions decorated with ``asynccontextmanager``."""
    found = set()
    for statement in module.body:
        if isinstance(statement, cst.FunctionDef):
            for decorator in statement.decorators:
                code = module.code_for_node(decorator.decorator)
                if code.endswith("asynccontextmanager"):
                    found.add(statement.name.value)
    return found


def _builds_app(node: cst.CSTNode) -> bool:
    apps = _Apps()
    node.visit(apps)
    return bool(apps.calls)


def _app_name(module: cst.Module) -> str | None:
    """The module-level name bound to the app (see :func:`_app_binding`)."""
    binding = _app_binding(module)
    return binding[1] if binding else None


def _app_binding(module: cst.Module) -> tuple[int, str] | None:
    """The module-level statement (its index) that binds the app, and the name: ``app =
    FastAPI(...)``, or ``app = make()`` where ``make`` is a function of this module that builds
    one."""
    factories = {
        s.name.value for s in module.body if isinstance(s, cst.FunctionDef) and _builds_app(s)
    }
    for index, statement in enumerate(module.body):
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            target = small.target if isinstance(small, cst.AnnAssign) else None
            if isinstance(small, cst.Assign) and len(small.targets) == 1:
                target = small.targets[0].target
            value = getattr(small, "value", None)
            if not isinstance(target, cst.Name) or not isinstance(value, cst.Call):
                continue
            if _is_app(value) or getattr(value.func, "value", None) in factories:
                return index, target.value
    return None


def app_with_startup(source: bytes) -> str | None:
    """The module-level name of the app built in ``source`` when the app has start-up code of
    its own (a ``lifespan=`` other than ours, or ``on_event`` handlers), else ``None``: what a
    worker must run (``BGMIGRATE_WORKER_LIFESPAN``) for its tasks to find what the app sets up."""
    module = cst.parse_module(source)
    apps = _Apps()
    module.visit(apps)
    if not apps.calls:
        return None
    arg = _lifespan_arg(apps.calls[0])
    own_lifespan = arg is not None and _code(arg.value) != _OURS
    hooks = any(f".{hook}" in module.code or f"{hook}=" in module.code for hook in _EVENT_HOOKS)
    return _app_name(module) if own_lifespan or hooks else None


def wire_lifespan(source: bytes, first_party: str) -> tuple[bytes, str | None, str | None]:
    """``(new source, what was done, what is left)`` for one module (``None``s: no app here)."""
    module = cst.parse_module(source)
    apps = _Apps()
    module.visit(apps)
    if not apps.calls:
        return source, None, None
    if _OURS in module.code or _OUR_EVENTS[0] in module.code:
        return source, "bgmigrate.lifespan is already wired", None
    arg = _lifespan_arg(apps.calls[0])
    function: str | None = None
    if arg is not None:
        name = arg.value.value if isinstance(arg.value, cst.Name) else None
        if name not in _context_managers(module):
            return (
                source,
                None,
                f"the app's lifespan is not an @asynccontextmanager here: {_BY_HAND}",
            )
        function = name
    elif any(f".{hook}" in module.code or f"{hook}=" in module.code for hook in _EVENT_HOOKS):
        return _wire_event_handlers(module, first_party)
    wire = _Wire(function)
    result = module.visit(wire)
    if not wire.done:
        return source, None, f"the app's lifespan has no single yield: {_BY_HAND}"
    how = f"nested in {function}()" if function else "FastAPI(lifespan=bgmigrate.lifespan)"
    return (
        _with_runtime_import(result, first_party, module),
        f"bgmigrate.lifespan wired: {how}",
        None,
    )


def _wire_event_handlers(
    module: cst.Module, first_party: str
) -> tuple[bytes, str | None, str | None]:
    """Ours registered as event handlers right after the statement that builds the app."""
    binding = _app_binding(module)
    if binding is None:
        left = (
            "the app starts with event handlers and is not built at module level here: "
            "register `bgmigrate.startup` and `bgmigrate.shutdown` beside them "
            '(`app.router.add_event_handler("startup", bgmigrate.startup)`)'
        )
        return module.bytes, None, left
    index, name = binding
    body = list(module.body)
    body[index + 1 : index + 1] = [
        cst.parse_statement(f'{name}.router.add_event_handler("{event}", {ours})\n')
        for event, ours in zip(("startup", "shutdown"), _OUR_EVENTS, strict=True)
    ]
    wired = _with_runtime_import(module.with_changes(body=body), first_party, module)
    done = "bgmigrate.startup and bgmigrate.shutdown registered beside the app's event handlers"
    return wired, done, None


def _with_runtime_import(result: cst.Module, first_party: str, original: cst.Module) -> bytes:
    """``result`` with ``import bgmigrate`` where the project's import style puts it."""
    context = CodemodContext()
    AddImportsVisitor.add_needed_import(context, RUNTIME)
    result = AddImportsVisitor(context).transform_module(result)
    return place_runtime_import(result, first_party, original).bytes
