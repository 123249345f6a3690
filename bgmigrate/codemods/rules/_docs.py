"""The rule reference in ``docs/rules.md``, generated from the rule modules themselves.

Regenerate with ``python scripts/update_docs.py``; tests/test_docs.py fails when it is stale.
"""

from __future__ import annotations

import inspect

from bgmigrate.codemods.rules import RULES
from bgmigrate.codemods.rules._base import Invalid, RuleSpec, example_source


def _example(code: str) -> str:
    return "```python\n" + example_source(code) + "```\n"


def _invalid(example: Invalid) -> str:
    # As the text report prints it: the column 1-based, for editors.
    where = f"Reported at `main.py:{example.line}:{example.column + 1}`.\n"
    return _example(example.source) + "\n" + where


def _section(spec: RuleSpec) -> str:
    module = inspect.getmodule(spec.check)
    doc = inspect.getdoc(module) or ""
    _, _, body = doc.partition("\n")
    parts = [
        f"## {spec.code} {spec.name}\n",
        f"{spec.summary} Verdict effect: `{spec.effect.value}`.\n",
        body.strip() + "\n",
        "### Triggers\n",
        *map(_invalid, spec.invalid),
        "### Does not trigger\n",
        *map(_example, spec.valid),
    ]
    return "\n".join(parts)


def render() -> str:
    """The generated part of ``docs/rules.md``: one section per rule, in code order."""
    return "\n".join(_section(spec) for spec in RULES.values())
