"""What each function of the project does, summarised once and bottom-up: its own calls, then
the summaries of the project functions it calls. Depth costs nothing (a function reached by
many tasks, or many calls deep, is read once), and cycles (recursion, mutual calls) end.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from bgmigrate.codemods.facts import Call, FileFacts, FunctionFacts
from bgmigrate.codemods.index import Found
from bgmigrate.codemods.rules import TracedCall

FunctionKey = tuple[str, str]
"""``(display path, qualname)`` of a function in the scanned tree."""
Summary = tuple[TracedCall, ...]
Resolve = Callable[[str], Found | None]
"""``Project.resolve``: the function definition a qualified name names."""


@dataclasses.dataclass
class _Frame:
    """One function being summarised (the explicit stack keeps deep chains off Python's)."""

    key: FunctionKey
    facts: FileFacts
    function: FunctionFacts
    entered_by: Call | None
    """The call of the caller's body that led here (``None`` for the root)."""
    index: int = 0
    children: list[tuple[Call, Summary]] = dataclasses.field(default_factory=list)
    open_cycles: set[FunctionKey] = dataclasses.field(default_factory=set)
    """Functions still being summarised that this one calls back (its summary lacks theirs)."""

    def build(self) -> Summary:
        """Own calls first, then each callee's summary once (a call seen on an earlier path is
        not repeated), its steps prefixed with the call that leads there."""
        path = self.facts.display_path
        own = [TracedCall(call, path, (), call.per_item) for call in self.function.calls]
        # A call is one place and one callee: a parameter's call names what each caller passed.
        seen = {(t.path, t.call.at, t.call.name) for t in own}
        merged = list(own)
        for call, summary in self.children:
            for traced in summary:
                where = (traced.path, traced.call.at, traced.call.name)
                if where not in seen:
                    seen.add(where)
                    merged.append(
                        TracedCall(
                            traced.call,
                            traced.path,
                            (call.name, *traced.via),
                            traced.repeated or call.per_item,
                        )
                    )
        return tuple(merged)


class Summaries:
    """Function summaries over a settled project, each computed once."""

    def __init__(self, resolve: Resolve) -> None:
        self._resolve = resolve
        self._done: dict[FunctionKey, Summary] = {}

    def of(self, facts: FileFacts, function: FunctionFacts) -> Summary:
        """Every call ``function`` makes, directly or through the project's functions."""
        root: FunctionKey = (facts.display_path, function.qualname)
        if root in self._done:
            return self._done[root]
        # Summaries cut short by a cycle are only valid inside this query.
        partial: dict[FunctionKey, Summary] = {}
        frames = [_Frame(root, facts, function, None)]
        active = {root}
        while True:
            frame = frames[-1]
            if frame.index < len(frame.function.calls):
                call = frame.function.calls[frame.index]
                frame.index += 1
                self._enter(frame, call, frames, active, partial)
                continue
            frames.pop()
            active.discard(frame.key)
            frame.open_cycles.discard(frame.key)
            summary = frame.build()
            if frame.open_cycles:
                partial[frame.key] = summary
            else:
                self._done[frame.key] = summary
            if not frames:
                return summary
            assert frame.entered_by is not None
            caller = frames[-1]
            caller.children.append((frame.entered_by, summary))
            caller.open_cycles |= frame.open_cycles - {caller.key}

    def _enter(
        self,
        frame: _Frame,
        call: Call,
        frames: list[_Frame],
        active: set[FunctionKey],
        partial: dict[FunctionKey, Summary],
    ) -> None:
        """Follow ``call`` of ``frame``: a known summary is used, a new function is pushed."""
        found = self._resolve(call.name)
        if found is None:
            return
        facts, function = found
        key = (facts.display_path, function.qualname)
        bound = _bound(call, function)
        special = _specialised(function, bound) if bound else None
        if special is not None:
            # Its calls of a parameter are the function or class the caller passed: a summary
            # of its own for these arguments.
            function = special
            given = ",".join(f"{k}={v}" for k, v in sorted(bound.items()))
            key = (facts.display_path, f"{function.qualname}<{given}>")
        known = self._done.get(key) or partial.get(key)
        if known is not None:
            frame.children.append((call, known))
        elif key in active:  # recursion: the caller up the stack already holds those calls
            frame.open_cycles.add(key)
        else:
            frames.append(_Frame(key, facts, function, call))
            active.add(key)


def _bound(call: Call, function: FunctionFacts) -> dict[str, str]:
    """The callee's parameters that ``call`` gives a function or class -> its name."""
    if not call.given:
        return {}
    shift = 1 if function.is_method else 0
    by_position = {str(p.index - shift): p.name for p in function.params if p.index >= 0}
    names = {p.name for p in function.params}
    bound = {}
    for key, qualified in call.given:
        name = by_position.get(key) if key.isdigit() else key if key in names else None
        if name is not None:
            bound[name] = qualified
    return bound


def _specialised(function: FunctionFacts, bound: dict[str, str]) -> FunctionFacts | None:
    """``function`` with its calls of bound parameters named by what they are bound to
    (``factory(config).process`` -> ``NotionToEntries.process``), or ``None`` if it makes
    none."""
    calls = tuple(_rebound(call, bound) for call in function.calls)
    return dataclasses.replace(function, calls=calls) if calls != function.calls else None


def _rebound(call: Call, bound: dict[str, str]) -> Call:
    for param, qualified in bound.items():
        name = call.name
        rest: str | None = None
        if name == param or name.startswith(f"{param}."):
            rest = name[len(param) :]
        elif name.startswith(f"{param}("):
            close = _closing(name, len(param))
            rest = name[close + 1 :] if close is not None else None
        if rest is not None:
            return dataclasses.replace(call, name=qualified + rest, text=call.label)
    return call


def _closing(text: str, opening: int) -> int | None:
    """Index of the parenthesis closing the one at ``opening``."""
    depth = 0
    for index in range(opening, len(text)):
        depth += {"(": 1, ")": -1}.get(text[index], 0)
        if depth == 0:
            return index
    return None
