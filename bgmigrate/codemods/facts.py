"""Plain data that the per-file analysis (run in worker processes) hands back to the project pass.

Everything here is frozen and picklable; nothing holds a syntax tree.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from enum import StrEnum

from bgmigrate.codemods.static_types import ClassTypes


class CallableKind(StrEnum):
    """What the first argument of an ``add_task`` call is."""

    FUNCTION = "function"
    """A module-level function, by name or module attribute: a queue can carry it."""
    LAMBDA = "lambda"
    PARTIAL = "partial"
    BOUND_METHOD = "bound_method"
    NESTED = "nested"
    """A function defined inside another (a closure): it has no importable name."""
    DYNAMIC = "dynamic"
    """Anything else (a call result, ``getattr``, a subscript): not known statically."""


@dataclasses.dataclass(frozen=True)
class Location:
    """A 1-based line and 0-based column in one file."""

    line: int
    column: int


@dataclasses.dataclass(frozen=True)
class Call:
    """A call made in a function body: the callee's resolved name and where it is."""

    name: str
    """Resolved dotted name (``requests.get``), or source text when unresolvable (``db.commit``)."""
    at: Location
    in_loop: bool = False
    text: str = ""
    """The callee as the source writes it (``db.commit``), when it differs from ``name``."""
    discarded: bool = False
    """The call is a statement of its own: its result (a spawned asyncio task) is dropped."""
    per_item: bool = False
    """The call runs once per item of a ``for`` loop or a comprehension (``in_loop`` also
    counts ``while`` loops, which are mostly retries and polls)."""
    writes: bool = False
    """The call opens a file for writing (``open(path, "w")``, ``path.open("ab")``)."""
    given: tuple[tuple[str, str], ...] = ()
    """Arguments that name a function or class (``setup(NotionToEntries, ...)``): ``(position
    or keyword, qualified name)``, so that the callee's calls of that parameter are followed."""

    @property
    def label(self) -> str:
        """The callee as evidence shows it: the source's own words."""
        return self.text or self.name


@dataclasses.dataclass(frozen=True)
class StateWrite:
    """A write to module-level (process-wide) state from inside a function."""

    name: str
    at: Location


@dataclasses.dataclass(frozen=True)
class Argument:
    """One argument given to ``add_task`` after the callable."""

    text: str
    """Source text of the argument expression."""
    at: Location
    request_scoped: str | None = None
    """What request-scoped object it is (``Request``, ``db session``...) or ``None``."""
    mutated_at: Location | None = None
    """Where the same variable is changed after the ``add_task`` call, if anywhere."""
    keyword: str | None = None
    """The keyword it is given by (``add_task(f, user_id=1)``), ``None`` when positional."""
    alias: str | None = None
    """Qualified name of the annotation alias of the parameter the argument comes from
    (``app.db.DbSession``), when it is declared elsewhere: the project pass reads it."""
    static_type: str | None = None
    """Its static type, as ``static_types`` writes it, when known."""


@dataclasses.dataclass(frozen=True)
class Candidate:
    """One of the callables a task chosen at run time may be."""

    kind: CallableKind
    target: str | None
    text: str


@dataclasses.dataclass(frozen=True)
class TaskRef:
    """The callable given to ``add_task``, as far as it is known statically."""

    kind: CallableKind
    target: str | None
    """Fully qualified name of the function that really runs, when known."""
    text: str
    """Source text of the callable expression."""
    lambda_calls: tuple[str, ...] = ()
    """Resolved names of calls a lambda returns without awaiting (coroutine check)."""
    candidates: tuple[Candidate, ...] = ()
    """The callables chosen between at run time (``f = a if c else b``, if/else assignments,
    dict lookups), each analysed; empty when there is one."""


@dataclasses.dataclass(frozen=True)
class RawCallSite:
    """An ``add_task`` call on a BackgroundTasks object, before project-wide resolution."""

    at: Location
    function: str
    """Qualified name (in this module) of the function containing the call."""
    task: TaskRef
    arguments: tuple[Argument, ...]
    receiver: Argument | None = None
    """The object of a bound-method task, when it is request-scoped (it travels as ``self``)."""
    hand_built: bool = False
    """On a ``BackgroundTasks()`` built by hand and attached to a response, or a single
    ``BackgroundTask(func, ...)``: audited, never rewritten."""


@dataclasses.dataclass(frozen=True)
class OtherUse:
    """A BackgroundTasks use that the rewrite cannot handle: reported for manual review."""

    kind: str
    """``constructed``, ``single`` or ``response_background``."""
    at: Location
    message: str


@dataclasses.dataclass(frozen=True)
class Param:
    """A parameter of a function and what its annotation says."""

    name: str
    index: int
    """Position, or -1 for keyword-only parameters."""
    bg: bool
    """Annotated as (or receiving) a BackgroundTasks object."""
    optional: bool = False
    """Annotated ``BackgroundTasks | None`` / ``Optional[...]``."""
    annotated: bool = False
    """The BackgroundTasks name appears in the parameter's own annotation."""
    annotation: str | None = None
    """The annotation's resolved name (``sqlalchemy.orm.Session``, also inside ``X | None``
    and ``Optional[X]``), when it names one type."""
    hint: str | None = None
    """The whole annotation as a type (``static_types`` form), when it can be read."""


@dataclasses.dataclass(frozen=True)
class FunctionFacts:
    """One ``def``/``async def`` (module level, nested or method)."""

    qualname: str
    at: Location
    is_async: bool
    module_level: bool
    is_method: bool
    route: str | None
    """``POST /upload`` when decorated as an endpoint."""
    params: tuple[Param, ...]
    calls: tuple[Call, ...]
    state_writes: tuple[StateWrite, ...]
    loops: tuple[Call, ...]
    """Loops over the result of a call (the call's name), and ``while True`` loops."""
    decorators: tuple[str, ...]
    """Resolved names of the decorators (call decorators by their callee)."""
    depends: tuple[str, ...] = ()
    """Qualified names of the dependencies the function declares (``Depends(get_service)``)."""
    attached: bool = False
    """The function hands its BackgroundTasks object to a response (``background=``): its
    parameters must stay BackgroundTasks."""
    router: str | None = None
    """Qualified name of the router (or app) whose decorator makes the function an endpoint."""
    yield_line: int | None = None
    """Line of the function's first ``yield``: a yield dependency's teardown runs after it."""
    returns: str | None = None
    """The class the function's return annotation names (``Path``; also inside ``X | None``,
    ``Iterator[X]`` and ``Generator[X, ...]`` of a context manager or a dependency)."""
    closure: str | None = None
    """Qualified name (in the module) of the nested function the function returns, when it
    is a factory of callables (``def make(): def run(): ...; return run``)."""
    best_effort: Location | None = None
    """Where the function's whole body is a ``try`` that catches every error and only logs
    it (the work is allowed to fail), when it is."""
    return_type: str | None = None
    """The return annotation as a type (``static_types`` form), when it can be read."""
    written_decorators: tuple[str, ...] = ()
    """The decorators of ``decorators`` as the source writes them (``celery_app.task``)."""


@dataclasses.dataclass(frozen=True)
class Pass:
    """A BackgroundTasks object handed to another callable (a helper or a service)."""

    callee: str
    """Fully qualified callee name (resolved in the caller's module)."""
    index: int
    """Positional index of the argument, or -1 when given by keyword."""
    keyword: str | None
    caller: str = ""
    """Qualified name (in this module) of the function that passes the object on."""

    def receivers(self, params: Iterable[Param], is_method: bool) -> Iterator[Param]:
        """The parameters that take the passed object: by keyword, or by position (after
        ``self`` for a method)."""
        shift = 1 if is_method else 0
        for param in params:
            by_keyword = self.keyword == param.name
            if by_keyword or (self.keyword is None and param.index == self.index + shift):
                yield param


@dataclasses.dataclass(frozen=True)
class Hints:
    """What other files say about this one: the input of a file's analysis besides its source."""

    bg_names: frozenset[str] = frozenset()
    """Qualified names that mean BackgroundTasks (project re-exports included)."""
    bg_params: frozenset[tuple[str, str]] = frozenset()
    """``(function's qualified name, parameter)`` pairs that receive the object."""
    bg_attrs: frozenset[str] = frozenset()
    """Qualified ``module.Class.attribute`` names that hold the object (context objects)."""


@dataclasses.dataclass(frozen=True)
class FileFacts:
    """Everything the project pass needs to know about one file."""

    display_path: str
    """The file as reports show it (``SourceFile.display_path``); also its key in the project."""
    module: str
    error: str | None = None
    functions: tuple[FunctionFacts, ...] = ()
    call_sites: tuple[RawCallSite, ...] = ()
    other_uses: tuple[OtherUse, ...] = ()
    passes: tuple[Pass, ...] = ()
    imports: tuple[tuple[str, str], ...] = ()
    """Local name -> fully qualified name, for every import in the module."""
    bg_attrs: tuple[str, ...] = ()
    """``module.Class.attribute`` names of this file's classes that hold the object."""
    bg_exports: tuple[str, ...] = ()
    """Module-level names bound to BackgroundTasks (re-exports and aliases)."""
    bg_local_names: tuple[str, ...] = ()
    """Dotted names meaning BackgroundTasks here (``BT``, ``fastapi.BackgroundTasks``)."""
    dependencies: tuple[str, ...] = ()
    """Qualified names used inside ``Depends(...)``/``Security(...)``."""
    bound_names: tuple[str, ...] = ()
    """Names bound at module level (imports included): the rewrite must not shadow them."""
    suppressions: tuple[tuple[int, tuple[str, ...]], ...] = ()
    """Line -> rule codes of ``# bgmigrate: ignore[...]`` comments."""
    includes: tuple[tuple[str, str, str], ...] = ()
    """``(parent, router, prefix)`` of each ``include_router`` call, names qualified (an
    unresolvable parent, such as an app built in a factory, is ``""``)."""
    scoped_aliases: tuple[tuple[str, str], ...] = ()
    """Module-level annotation aliases of request-scoped objects (``DbSession =
    Annotated[Session, Depends(get_db)]``) -> what they are."""
    classes: tuple[ClassTypes, ...] = ()
    """Module-level classes with their bases and field types (for the argument type check)."""
    type_aliases: tuple[tuple[str, str], ...] = ()
    """Module-level type aliases (``UserId = Annotated[UUID, ...]``) -> the type."""
    instances: tuple[tuple[str, str], ...] = ()
    """Names that hold an instance of a class -> the class's qualified name: module-level
    names (``sync_service = SyncService()``, ``app: ForgeApp``) and annotated class attributes
    (``ForgeApp.AGENT_FUNCTION``)."""
