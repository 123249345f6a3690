"""Arguments of a call site whose static type the codec would refuse for their parameter.

Shared by the audit rule (BGM115) and the rewrite, which adds the hints that are mechanical.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Protocol

from bgmigrate.codemods.facts import Argument, CallableKind, FunctionFacts, Param, RawCallSite
from bgmigrate.codemods.index import FunctionIndex
from bgmigrate.codemods.type_check import Member, TypeTable, Union, accepts, plain, spell

_NO_IMPORT = frozenset({"builtins", ""})


@dataclasses.dataclass(frozen=True)
class Mismatch:
    """One argument the codec would refuse at enqueue, from the types alone."""

    argument: Argument
    param: Param
    given: Union
    """The argument's static type."""
    hint: Union | None
    """The parameter's hint; ``None`` when the parameter has none."""
    refused: tuple[Member, ...]
    """The members of ``given`` the codec refuses."""

    @property
    def annotated(self) -> bool:
        """The parameter has a hint (a fix changes it; without one, a fix adds one)."""
        return self.hint is not None

    def message(self) -> str:
        """What is wrong, naming the argument, its type and the parameter's hint."""
        refused = spell(self.refused)
        if self.hint is None:
            return (
                f"{self.argument.text!r} ({spell(self.given)}) goes to {self.param.name}, "
                "which has no type hint and carries plain JSON only: the codec refuses a "
                f"value of type {refused} at enqueue"
            )
        return (
            f"{self.argument.text!r} ({spell(self.given)}) goes to {self.param.name}: "
            f"{spell(self.hint)}: the codec refuses a value of type {refused} at enqueue"
        )

    def fix(self) -> str:
        """The fix, and when ``bgmigrate rewrite`` makes it."""
        wanted = f"'{self.param.name}: {spell(self.given)}'"
        if self.hint is None:
            return (
                f"annotate the parameter {wanted} (bgmigrate rewrite adds it when the type of "
                "every call's argument is known)"
            )
        return (
            f"pass a value of type {spell(self.hint)}, or annotate the parameter {wanted} "
            "(bgmigrate rewrite --widen-types does it)"
        )


def imports(union: Union) -> Iterator[tuple[str, str]]:
    """``(module, name)`` to import for a hint spelling ``union`` by short names."""
    for member in union:
        module, _, name = member.name.rpartition(".")
        if module not in _NO_IMPORT:
            yield module, name
        yield from imports(member.args)


def receivers(site: RawCallSite, task: FunctionFacts) -> Iterator[tuple[Argument, Param]]:
    """Each argument of ``site`` with the task parameter that takes it."""
    shift = 1 if site.task.kind is CallableKind.BOUND_METHOD else 0
    positional = 0
    for argument in site.arguments:
        if argument.text.startswith("*"):
            return  # the positions after ``*args`` are not known
        if argument.keyword is not None:
            param = next((p for p in task.params if p.name == argument.keyword), None)
        else:
            index = positional + shift
            param = next((p for p in task.params if p.index == index), None)
            positional += 1
        if param is not None:
            yield argument, param


def mismatches(table: TypeTable, site: RawCallSite, task: FunctionFacts) -> Iterator[Mismatch]:
    """The arguments of ``site`` whose static type the codec refuses for their parameter
    (nothing where a type is not known)."""
    if site.task.kind not in (CallableKind.FUNCTION, CallableKind.BOUND_METHOD):
        return
    for argument, param in receivers(site, task):
        given = table.resolve(argument.static_type)
        if given is None:
            continue
        hint = table.resolve(param.hint) if param.hint is not None else None
        if param.hint is not None and hint is None:
            continue  # a hint that cannot be read: not known
        if hint is None:
            refused = tuple(m for m in given if plain(table, m) is False)
        else:
            answers = {m: accepts(table, hint, m) for m in given}
            # A hint that takes one member of a union is the caller's narrowing (``for url in
            # request.content`` in the branch where the content is URLs): no finding. An
            # unannotated parameter says nothing, and the union as its hint takes every member.
            refused = () if True in answers.values() else tuple(answers)
            refused = tuple(m for m in refused if answers[m] is False)
        if refused:
            yield Mismatch(argument, param, given, hint, refused)


class Follower(Protocol):
    """What ``follow_types`` needs of the project (``project.Project``)."""

    @property
    def index(self) -> FunctionIndex:
        """Analysed files and where modules are."""

    def follow(self, names: Iterable[str]) -> None:
        """Analyse the files defining ``names`` that are not analysed yet."""


def follow_types(project: Follower, rounds: int = 4) -> None:
    """Analyse the files the argument type check reads (classes, their bases and fields,
    aliases, functions' return annotations), and only those: the check is run, the names whose
    lookup stopped at a file not analysed yet are read, and again (a few rounds)."""
    seen: set[str] = set()
    for _ in range(rounds):
        table = TypeTable(project.index)
        sites = [site for facts in project.index.facts.values() for site in facts.call_sites]
        for site in sites:
            found = project.index.resolve(site.task.target) if site.task.target else None
            if found is not None:
                list(mismatches(table, site, found[1]))  # for the lookups it makes
        fresh = sorted(table.unread - seen)
        if not fresh:
            return
        project.follow(fresh)
        seen.update(fresh)
