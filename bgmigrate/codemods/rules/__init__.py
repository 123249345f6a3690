"""The audit rules: one ``bgmNNN_name.py`` module per rule, with examples; helpers are ``_*.py``.

``BGM1xx`` rules read the source; ``BGM2xx`` rules read runtime statistics (``--evidence``).
A rule's code is its module's prefix, never renumbered, never reused. ``RULES`` maps each
code to its ``RuleSpec``, in code order.
"""

from __future__ import annotations

import importlib
import pkgutil

from bgmigrate.codemods.rules._base import (
    Effect,
    Invalid,
    RuleSpec,
    SiteContext,
    TracedCall,
    example_source,
)
from bgmigrate.errors import ConfigError


def _load() -> dict[str, RuleSpec]:
    """Every ``bgmNNN_*`` module's ``RULE``, in code order."""
    specs: list[RuleSpec] = [
        importlib.import_module(f"{__name__}.{info.name}").RULE
        for info in pkgutil.iter_modules(__path__)
        if info.name.startswith("bgm")
    ]
    return {spec.code: spec for spec in sorted(specs, key=lambda spec: spec.code)}


RULES: dict[str, RuleSpec] = _load()


def selected(code: str, select: tuple[str, ...], ignore: tuple[str, ...]) -> bool:
    """Whether a rule code passes ``--select``/``--ignore`` (prefixes such as ``BGM10`` work)."""
    chosen = not select or any(code.startswith(s.upper()) for s in select)
    return chosen and not any(code.startswith(i.upper()) for i in ignore)


def check_codes(select: tuple[str, ...], ignore: tuple[str, ...]) -> None:
    """Fail on ``--select`` values that are not rule codes or prefixes (``--ignore`` values not
    starting with ``BGM`` are path patterns)."""
    codes = list(RULES)
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
    "Invalid",
    "RuleSpec",
    "SiteContext",
    "TracedCall",
    "check_codes",
    "example_source",
    "selected",
]
