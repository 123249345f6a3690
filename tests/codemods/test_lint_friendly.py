"""Rewritten code stays clean for the project's own linter (ruff, as the trials' apps use it)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import libcst as cst
import pytest

from bgmigrate.codemods.lint_friendly import (
    line_length,
    sort_runtime_names,
    split_aliased,
    wrap_comment,
)
from bgmigrate.codemods.string_refs import is_test_file, names_in_tests
from tests.codemods.golden import CASES, FIXTURES

CASE = FIXTURES / "lint_friendly"
RUFF_RULES = "I,E501,F401,TC002,RUF100"


def _ruff(tree: Path, *options: str) -> list[str]:
    """``path:line:column: finding`` lines of ``ruff check OPTIONS .`` run in ``tree``."""
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent))
    assert ruff is not None, "ruff is in the dev extra: pip install -e '.[dev]'"
    result = subprocess.run(
        [ruff, "check", "--no-cache", "--isolated", "--output-format", "concise", *options, "."],
        cwd=tree,
        capture_output=True,
        text=True,
        check=False,
    )
    return sorted(line for line in result.stdout.splitlines() if ".py:" in line)


def _findings(tree: Path) -> list[str]:
    """What the rules the rewrite could break say about ``app/``, without file positions."""
    found = _ruff(tree, "--select", RUFF_RULES, "--line-length", "80")
    return sorted(line.split(":", 3)[-1] for line in found if line.startswith("app"))


def test_the_rewrite_adds_no_ruff_finding() -> None:
    assert _findings(CASE / "before") == []  # the case is clean before the rewrite
    assert _findings(CASE / "after") == []


def _unsorted(tree: Path) -> set[str]:
    """Files whose imports ruff's isort rule (I001) would reorder (the tree's top-level packages
    are first-party, ``bgmigrate`` third-party, as in a user's project)."""
    return {line.partition(":")[0] for line in _ruff(tree, "--select", "I")}


@pytest.mark.parametrize("case", CASES)
def test_the_rewrite_leaves_imports_as_isort_sorts_them(case: str) -> None:
    assert _unsorted(FIXTURES / case / "after") <= _unsorted(FIXTURES / case / "before")


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"pyproject.toml": "[tool.ruff]\nline-length = 80\n"}, 80),
        ({"ruff.toml": "line-length = 100\n"}, 100),
        ({"pyproject.toml": "[tool.black]\nline-length = 79\n"}, 79),
        ({"setup.cfg": "[flake8]\nmax-line-length = 119\n"}, 119),
        ({"pyproject.toml": "[project]\nname = 'x'\n"}, 88),
        ({"setup.cfg": "not an ini file"}, 88),
    ],
)
def test_the_line_length_comes_from_the_projects_linter(
    tmp_path: Path, files: dict[str, str], expected: int
) -> None:
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    assert line_length(tmp_path) == expected


def test_a_long_comment_is_wrapped_and_a_short_one_kept() -> None:
    short = "# bgmigrate: BGM105 pass a function"
    assert wrap_comment(short, 80) == [short]
    lines = wrap_comment("# bgmigrate: BGM103 " + "word " * 30, 60)
    assert all(len(line) <= 60 for line in lines)
    assert lines[0].startswith("# bgmigrate: BGM103")
    assert all(line.startswith("#   ") for line in lines[1:])


def test_dotted_names_in_test_strings_are_found(tmp_path: Path) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / ".venv").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text('patch("app.api.BackgroundTasks")\n')
    (tmp_path / "tests" / "helpers.py").write_text('patch("app.other.BackgroundTasks")\n')
    (tmp_path / ".venv" / "test_b.py").write_text('patch("lib.BackgroundTasks")\n')
    found = names_in_tests(tmp_path, ["BackgroundTasks"])
    assert found == {"app.api.BackgroundTasks"}
    assert names_in_tests(tmp_path, []) == frozenset()


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("tests/helpers.py", True),
        ("app/test_api.py", True),
        ("conftest.py", True),
        ("app/api_test.py", True),
        ("app/main.py", False),
        ("app/testing.py", False),
    ],
)
def test_test_modules_are_recognised(path: str, expected: bool) -> None:
    assert is_test_file(Path(path)) is expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        (  # seapagan after a second `rewrite`: libcst put the added names first
            "from bgmigrate import RequestBatch, Tasks  # noqa: TC002\n",
            "from bgmigrate import RetryPolicy, task, RequestBatch, Tasks  # noqa: TC002\n",
            # TC002 would now be an unused noqa (RUF100)
            "from bgmigrate import RequestBatch, RetryPolicy, Tasks, task\n",
        ),
        (
            "from bgmigrate import Tasks  # noqa: TC002, E501\n",
            "from bgmigrate import task, Tasks  # noqa: TC002, E501\n",
            "from bgmigrate import Tasks, task  # noqa: E501\n",
        ),
        (
            "from bgmigrate import (\n    Tasks,\n)\n",
            "from bgmigrate import (\n    task,\n    Tasks,\n)\n",
            "from bgmigrate import (\n    Tasks,\n    task,\n)\n",
        ),
        (  # an import the rewrite did not change keeps its order
            "from bgmigrate import task, Tasks\n",
            "from bgmigrate import task, Tasks\n",
            "from bgmigrate import task, Tasks\n",
        ),
    ],
)
def test_names_added_to_a_bgmigrate_import_keep_isorts_order_and_a_valid_noqa(
    before: str, after: str, expected: str
) -> None:
    result = sort_runtime_names(cst.parse_module(before), cst.parse_module(after))
    assert result.code == expected


@pytest.mark.parametrize(
    ("before", "after", "expected"),
    [
        pytest.param(
            "import os\nfrom bgmigrate import task as queued  # noqa: F401\n",
            "import os\nfrom bgmigrate import Tasks, task as queued  # noqa: F401\n",
            "import os\nfrom bgmigrate import Tasks\n"
            "from bgmigrate import task as queued  # noqa: F401\n",
            id="added-names-apart-from-an-alias-only-import",
        ),
        pytest.param(
            "from bgmigrate import RetryPolicy, task as queued\n",
            "from bgmigrate import RetryPolicy, Tasks, task as queued\n",
            "from bgmigrate import RetryPolicy, Tasks, task as queued\n",
            id="a-combined-import-stays-combined",
        ),
    ],
)
def test_names_added_to_an_aliased_bgmigrate_import_go_on_their_own_line(
    before: str, after: str, expected: str
) -> None:
    result = split_aliased(cst.parse_module(before), cst.parse_module(after))
    assert result.code == expected
