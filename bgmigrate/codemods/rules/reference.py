"""The rule reference in ``docs/rules.md``, generated from the rule modules themselves.

Regenerate with ``python scripts/update_docs.py``; tests/test_docs.py fails when it is stale.
"""

from __future__ import annotations

import inspect
import textwrap

from bgmigrate.codemods.rules import RULES
from bgmigrate.codemods.rules.base import RuleSpec


def _example(code: str) -> str:
    return "```python\n" + textwrap.dedent(code).strip() + "\n```\n"


def _section(spec: RuleSpec) -> str:
    module = inspect.getmodule(spec.check)
    doc = inspect.getdoc(module) or ""
    _, _, body = doc.partition("\n")
    parts = [
        f"## {spec.code} {spec.name}\n",
        f"{spec.summary} Verdict effect: `{spec.effect.value}`.\n",
        body.strip() + "\n",
        "### Triggers\n",
        *map(_example, spec.invalid),
        "### Does not trigger\n",
        *map(_example, spec.valid),
    ]
    return "\n".join(parts)


def render() -> str:
    """The generated part of ``docs/rules.md``: one section per rule, in code order."""
    return "\n".join(_section(spec) for spec in RULES.values())
