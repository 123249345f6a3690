"""Before/after cases of ``rewrite --backend``: ``scaffold_fixtures/<backend>_<name>/``.

Each case holds ``before/`` (the project), ``after/`` (what ``rewrite --backend <backend> .``
must leave) and ``checklist.txt`` (what it prints). Regenerate after a deliberate change with
``python -m tests.codemods.scaffold_golden`` and review the diff.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from tests.codemods.golden import chdir, files, invoke, replace_tree

FIXTURES = Path(__file__).parent / "scaffold_fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "before").is_dir())


def rewrite(project: Path, backend: str, *flags: str) -> tuple[int, str, str]:
    """``rewrite --backend`` in ``project``: ``(exit code, stdout, stderr)``."""
    with chdir(project):
        return invoke("rewrite", "--backend", backend, "--no-progress", "--no-cache", *flags, ".")


def run_case(case: str, work: Path) -> tuple[str, dict[str, bytes]]:
    """Rewrite a copy of the case: ``(its checklist, files after)``."""
    project = work / case
    shutil.copytree(FIXTURES / case / "before", project)
    _, _, err = rewrite(project, case.partition("_")[0])
    return checklist(err), files(project)


def checklist(stderr: str) -> str:
    """The checklist part of ``rewrite``'s output."""
    return stderr[stderr.index("Checklist:") :]


def regenerate(work: Path) -> None:
    """Rewrite every case's ``after/`` and ``checklist.txt`` from the current code."""
    for case in CASES:
        text, after = run_case(case, work)
        (FIXTURES / case / "checklist.txt").write_text(text)
        replace_tree(FIXTURES / case / "after", after)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        regenerate(Path(tmp))
    sys.exit(0)
