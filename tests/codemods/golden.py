"""Before/after fixture cases: run ``scan`` and ``rewrite`` on a copy of ``before/``.

Each case in ``fixtures/`` holds ``before/`` (the project), ``after/`` (what ``rewrite`` must
produce; identical to ``before/`` for no-op cases) and ``expected.txt`` (one line per call
site, other use, error and unused suppression of ``scan --format json``); a case with an
``evidence.json`` is scanned and rewritten with ``--evidence`` it. Regenerate after a
deliberate change with ``python -m tests.codemods.golden`` and review the diff.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from typer.testing import CliRunner

from bgmigrate.cli import app
from tests.codemods.report_schema import load_report

FIXTURES = Path(__file__).parent / "fixtures"
CASES = sorted(p.name for p in FIXTURES.iterdir() if (p / "before").is_dir())


@contextlib.contextmanager
def chdir(path: Path) -> Iterator[None]:
    """Run with ``path`` as the current directory."""
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def invoke(*args: str) -> tuple[int, str, str]:
    """Run the CLI in-process: ``(exit code, stdout, stderr)``."""
    result = CliRunner().invoke(app, list(args))
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    # ``Result.stdout`` turns CRLF into LF; diffs of CRLF files must keep their bytes.
    out = result.stdout_bytes.decode("utf-8", errors="surrogateescape")
    return result.exit_code, out, result.stderr


def summarize(report: dict[str, Any]) -> list[str]:
    """The stable one-line-per-item summary stored in ``expected.txt``."""
    lines = []
    for site in report["call_sites"]:
        rules = " ".join(sorted({f["rule"] for f in site["findings"]}))
        where = site["endpoint"] or site["function"]
        lines.append(
            f"{site['path']}:{site['line']}:{site['column']} {where} -> {site['task']}"
            f" ({site['callable_kind']}) [{site['verdict']}] {rules}".rstrip()
        )
    lines += [f"other {o['path']}:{o['line']} {o['kind']}" for o in report["other_uses"]]
    lines += [f"error {e['path']}: {e['message']}" for e in report["errors"]]
    lines += [
        f"unused {u['path']}:{u['line']} {','.join(u['codes'])}"
        for u in report["unused_suppressions"]
    ]
    return lines


def files(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def evidence(case: str) -> list[str]:
    """``--evidence FILE`` for a case that has runtime statistics, else nothing."""
    path = FIXTURES / case / "evidence.json"
    return ["--evidence", str(path)] if path.is_file() else []


def run_case(case: str, work: Path) -> tuple[list[str], dict[str, bytes]]:
    """Scan and rewrite a copy of the case: ``(summary, files after rewrite)``."""
    project = work / case
    shutil.copytree(FIXTURES / case / "before", project)
    flags = ["--no-progress", "--no-cache", "-j", "1", *evidence(case), "."]
    with chdir(project):
        _, out, _ = invoke("scan", "--format", "json", *flags)
        invoke("rewrite", *flags)
    return summarize(load_report(out)), files(project)


def replace_tree(target: Path, tree: dict[str, bytes]) -> None:
    """Make ``target`` hold exactly ``tree`` (relative path -> content)."""
    shutil.rmtree(target, ignore_errors=True)
    for name, data in tree.items():
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        (target / name).write_bytes(data)


def regenerate(work: Path) -> None:
    """Rewrite every case's ``expected.txt`` and ``after/`` from the current code."""
    for case in CASES:
        summary, after = run_case(case, work)
        (FIXTURES / case / "expected.txt").write_text("\n".join(summary) + "\n")
        replace_tree(FIXTURES / case / "after", after)


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        regenerate(Path(tmp))
    sys.exit(0)
