"""Regenerate the parts of docs/ that are derived from the code (run after changing them).

Each generated part sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``;
tests/test_docs.py fails when a committed part is out of date.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path

from bgmigrate.cli.reference import cli_reference
from bgmigrate.codemods.rules.reference import render as rules_reference
from bgmigrate.config import settings_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"

#: Generated part name -> (file, generator).
GENERATED: dict[str, tuple[str, Callable[[], str]]] = {
    "settings": ("configuration.md", settings_reference),
    "cli": ("cli.md", cli_reference),
    "rules": ("rules.md", rules_reference),
}


def render(text: str, name: str, content: str) -> str:
    """``text`` with the generated part ``name`` replaced by ``content``."""
    pattern = re.compile(
        rf"(<!-- generated: {name} -->\n).*?(<!-- end: {name} -->)", flags=re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"no '<!-- generated: {name} -->' section found")
    return pattern.sub(lambda match: match.group(1) + content + match.group(2), text)


def main() -> int:
    """Rewrite every generated part in place; print the files that changed."""
    for name, (filename, generate) in GENERATED.items():
        path = DOCS / filename
        text = path.read_text()
        updated = render(text, name, generate())
        if updated != text:
            path.write_text(updated)
            print(f"updated {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
