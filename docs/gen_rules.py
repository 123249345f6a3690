"""Regenerate docs/rules.md from the rule modules: ``python docs/gen_rules.py``."""

from pathlib import Path

from bgmigrate.codemods.rules.reference import render

Path(__file__).with_name("rules.md").write_text(render(), encoding="utf-8")
