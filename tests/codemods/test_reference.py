"""docs/rules.md is generated from the rule modules and must be up to date."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.codemods.rules import RULES
from bgmigrate.codemods.rules.reference import render

DOC = Path(__file__).parents[2] / "docs" / "rules.md"


def test_rules_md_is_up_to_date() -> None:
    assert DOC.read_text(encoding="utf-8") == render(), "run: python docs/gen_rules.py"


def test_every_rule_has_a_section() -> None:
    text = render()
    for spec in RULES.values():
        assert f"## {spec.code} {spec.name}" in text
