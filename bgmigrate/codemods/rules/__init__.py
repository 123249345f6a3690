"""The audit rules: one module per rule, each with a stable ``BGM1xx`` code and examples.

``Rule`` is the registry (and the type of ``--select``/``--ignore`` values); ``RULES`` maps
each code to its ``RuleSpec``.
"""

from __future__ import annotations

import importlib
import pkgutil
from enum import StrEnum

from bgmigrate.codemods.rules.base import Effect, RuleSpec, SiteContext, TracedCall
from bgmigrate.errors import ConfigError


class Rule(StrEnum):
    """Stable rule codes; never renumbered, never reused."""

    LONG_RUNNING = "BGM101"
    MUST_NOT_LOSE = "BGM102"
    REQUEST_SCOPED_ARGUMENT = "BGM103"
    MUTATED_AFTER_ADD_TASK = "BGM104"
    NOT_IMPORTABLE_CALLABLE = "BGM105"
    ASYNC_BLOCKING = "BGM106"
    MUST_STAY_IN_PROCESS = "BGM107"
    COROUTINE_NEVER_AWAITED = "BGM108"
    OBSERVED_IN_PRODUCTION = "BGM109"
    UNUSED_SUPPRESSION = "BGM199"


def _load() -> dict[Rule, RuleSpec]:
    """Every ``bgmNNN_*`` module's ``RULE``, in code order (a code ``Rule`` lacks is an error)."""
    specs: list[RuleSpec] = [
        importlib.import_module(f"{__name__}.{info.name}").RULE
        for info in pkgutil.iter_modules(__path__)
        if info.name.startswith("bgm")
    ]
    return {Rule(spec.code): spec for spec in sorted(specs, key=lambda spec: spec.code)}


RULES: dict[Rule, RuleSpec] = _load()


def selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """Whether a rule code passes ``--select``/``--ignore`` (prefixes such as ``BGM10`` work)."""
    chosen = not select or any(code.startswith(s.upper()) for s in select)
    return chosen and not any(code.startswith(i.upper()) for i in ignore)


def check_codes(select: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """Fail on ``--select`` values that are not rule codes or prefixes (``--ignore`` values not
    starting with ``BGM`` are path patterns)."""
    codes = [rule.value for rule in Rule]
    given = [*select, *(i for i in ignore if i.upper().startswith("BGM"))]
    unknown = [g for g in given if not any(code.startswith(g.upper()) for code in codes)]
    if unknown:
        raise ConfigError(
            f"unknown rule code {', '.join(unknown)}; valid codes: {', '.join(codes)}"
            " (or a prefix such as BGM10)"
        )


__all__ = [
    "RULES",
    "Effect",
    "Rule",
    "RuleSpec",
    "SiteContext",
    "TracedCall",
    "check_codes",
    "selected",
]
