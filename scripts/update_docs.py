"""Regenerate the parts of docs/ that are derived from the code (run after changing them).

Each generated part sits between ``<!-- generated: NAME -->`` and ``<!-- end: NAME -->``;
tests/test_docs.py fails when a committed part is out of date.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bgmigrate.cli.reference import cli_reference
from bgmigrate.codemods.rules._docs import render as rules_reference
from bgmigrate.settings import settings_reference

DOCS = Path(__file__).resolve().parent.parent / "docs"
EXAMPLES = DOCS.parent / "examples"


def _on_example(*argv: str) -> str:
    """What ``bgmigrate ARGV docapp`` prints on a fresh copy of the example app."""
    with tempfile.TemporaryDirectory(prefix="bgmigrate-docs-") as workdir:
        skip = shutil.ignore_patterns("__pycache__", "*.sqlite3")
        shutil.copytree(EXAMPLES / "docapp", Path(workdir) / "docapp", ignore=skip)
        completed = subprocess.run(
            [str(Path(sys.executable).parent / "bgmigrate"), *argv, "--no-cache", "docapp"],
            cwd=workdir,
            env={**os.environ, "NO_COLOR": "1"},
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    if completed.returncode not in (0, 1):
        raise SystemExit(f"bgmigrate {' '.join(argv)} failed:\n{completed.stderr}")
    return completed.stdout


def example_scan() -> str:
    """The scan of the example app shown in docs/getting-started.md."""
    return "```text\n" + _on_example("scan", "--no-progress") + "```\n"


def example_diff() -> str:
    """The rewrite preview of the example app shown in docs/getting-started.md."""
    return "```diff\n" + _on_example("rewrite", "--diff", "--no-progress") + "```\n"


#: Generated part name -> (file, generator).
GENERATED: dict[str, tuple[str, Callable[[], str]]] = {
    "settings": ("configuration.md", settings_reference),
    "cli": ("cli.md", cli_reference),
    "rules": ("rules.md", rules_reference),
    "example-scan": ("getting-started.md", example_scan),
    "example-diff": ("getting-started.md", example_diff),
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
