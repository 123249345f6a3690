"""Project-wide lookups: module names to files, qualified names to function definitions.

Module names are relative to the scanned root, so an import may name a module by a shorter
dotted path than the one indexed (``app.tasks`` for ``examples/app/tasks.py`` scanned from the
repository root): lookups fall back to a unique suffix match.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from typing import TypeVar

from bgmigrate.codemods.discovery import SourceFile
from bgmigrate.codemods.facts import FileFacts, FunctionFacts

_MAX_HOPS = 4
Found = tuple[FileFacts, FunctionFacts]
T = TypeVar("T")
Pick = Callable[[FileFacts, str], T | None]
"""What a lookup looks for in one module: ``(facts, name in the module)`` -> result or ``None``."""


def _suffixes(name: str) -> list[str]:
    parts = name.split(".")
    return [".".join(parts[i:]) for i in range(len(parts))]


class ModuleIndex:
    """Every discovered file by module name (exact, or unique suffix)."""

    def __init__(self, files: list[SourceFile]) -> None:
        self._by_suffix: dict[str, list[SourceFile]] = defaultdict(list)
        for source in files:
            for suffix in _suffixes(source.module):
                self._by_suffix[suffix].append(source)

    def find(self, module: str) -> SourceFile | None:
        """The file of ``module``: an exact match, else the one module ending with that name,
        else (the scan started inside the import root) the one module named by a tail of it."""
        found = self._by_suffix.get(module, [])
        exact = [f for f in found if f.module == module]
        if exact:
            return exact[0]
        if len(found) == 1:
            return found[0]
        parts = module.split(".")
        for start in range(1, len(parts) - 1):
            tail = ".".join(parts[start:])
            named = [f for f in self._by_suffix.get(tail, []) if f.module == tail]
            if len(named) == 1:
                return named[0]
        return None

    def split(self, qualified: str) -> tuple[SourceFile, str] | None:
        """Split ``pkg.mod.Class.method`` into the longest known module and the rest."""
        parts = qualified.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            source = self.find(".".join(parts[:cut]))
            if source is not None:
                return source, ".".join(parts[cut:])
        return None


class FunctionIndex:
    """Function definitions of analysed files, found by qualified name across re-exports."""

    def __init__(self, modules: ModuleIndex) -> None:
        self.modules = modules
        self.facts: dict[str, FileFacts] = {}
        """Analysed files by display path."""

    def add(self, facts: FileFacts) -> None:
        """Record (or replace) the facts of one file."""
        self.facts[facts.display_path] = facts

    def resolve(self, qualified: str) -> Found | None:
        """The definition ``qualified`` names, following ``from x import y`` re-exports and
        module-level instances (``sync_service.run`` -> ``SyncService.run``), among the files
        analysed so far."""
        found = self._lookup(qualified, _function)
        return None if isinstance(found, SourceFile) else found

    def unread(self, qualified: str) -> SourceFile | None:
        """The discovered but not analysed file the lookup of ``qualified`` stops at."""
        found = self._lookup(qualified, _function)
        return found if isinstance(found, SourceFile) else None

    def scoped_alias(self, qualified: str) -> str | None:
        """What request-scoped object the annotation alias ``qualified`` means, if it is one."""
        found = self._lookup(qualified, lambda facts, rest: dict(facts.scoped_aliases).get(rest))
        return found if isinstance(found, str) else None

    def in_project(self, qualified: str) -> bool:
        """Whether ``qualified`` names something in a module of the scanned tree."""
        return self.modules.split(qualified) is not None

    def _lookup(self, qualified: str, pick: Pick[T]) -> T | SourceFile | None:
        for _ in range(_MAX_HOPS):
            split = self.modules.split(qualified)
            if split is None:
                return None
            source, rest = split
            facts = self.facts.get(source.display_path)
            if facts is None:
                return source
            picked = pick(facts, rest)
            if picked is not None:
                return picked
            hop = _hop(facts, rest)
            if hop is None:
                return None
            qualified = hop
        return None


def _hop(facts: FileFacts, rest: str) -> str | None:
    """Where ``rest`` (a name in ``facts``' module) leads: through an import, through a name
    or class attribute holding an instance (the longest such prefix), or through a star
    import."""
    head, _, tail = rest.partition(".")
    imported = dict(facts.imports).get(head)
    if imported is not None:
        return f"{imported}.{tail}" if tail else imported
    held = dict(facts.instances)
    parts = rest.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        cls = held.get(".".join(parts[:cut]))
        if cls is not None:
            return ".".join([cls, *parts[cut:]])
    # ``from .dependencies import *`` in a package's ``__init__``: the name may come from there.
    star = dict(facts.imports).get("*")
    return f"{star.removesuffix('.*')}.{rest}" if star else None


def _function(facts: FileFacts, rest: str) -> Found | None:
    """The function (or the class's ``__init__``) named ``rest`` in ``facts``."""
    function = next((f for f in facts.functions if f.qualname == rest), None)
    if function is None:
        init = f"{rest}.__init__"
        function = next((f for f in facts.functions if f.qualname == init), None)
    return (facts, function) if function is not None else None
