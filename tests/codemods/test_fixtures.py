"""Every before/after fixture case: scan summary, rewrite, idempotence, git-applicable diff."""

from __future__ import annotations

import ast
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.codemods.golden import CASES, FIXTURES, chdir, evidence, files, invoke, run_case


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_scan_reports_the_expected_call_sites(case: str, tmp_path: Path) -> None:
    summary, _ = run_case(case, tmp_path)
    expected = (FIXTURES / case / "expected.txt").read_text().splitlines()
    assert summary == [line for line in expected if line]


def test_rewrite_produces_the_after_tree(case: str, tmp_path: Path) -> None:
    _, after = run_case(case, tmp_path)
    assert after == files(FIXTURES / case / "after")


def test_a_second_rewrite_changes_nothing(case: str, tmp_path: Path) -> None:
    _, after = run_case(case, tmp_path)
    with chdir(tmp_path / case):
        code, out, _ = invoke(
            "rewrite", "--diff", "--no-progress", "--no-cache", *evidence(case), "."
        )
    assert out == ""
    assert code in (0, 2)  # 2 only for the case holding an unparsable file
    assert files(tmp_path / case) == after


def test_rewritten_files_parse(case: str) -> None:
    for path in (FIXTURES / case / "after").rglob("*.py"):
        if path.name == "newer.py":
            continue
        ast.parse(path.read_bytes(), filename=str(path))


def test_diff_applies_with_git(case: str, tmp_path: Path) -> None:
    project = tmp_path / "repo"
    shutil.copytree(FIXTURES / case / "before", project)
    with chdir(project):
        _, diff, _ = invoke(
            "rewrite", "--diff", "--no-progress", "--no-cache", *evidence(case), "."
        )
    unchanged = files(FIXTURES / case / "before") == files(FIXTURES / case / "after")
    assert (diff == "") == unchanged
    assert files(project) == files(FIXTURES / case / "before")  # --diff writes nothing
    if diff:
        subprocess.run(["git", "init", "-q"], cwd=project, check=True)
        patch = tmp_path / "change.patch"
        patch.write_bytes(diff.encode("utf-8", errors="surrogateescape"))
        subprocess.run(["git", "apply", "--check", str(patch)], cwd=project, check=True)
