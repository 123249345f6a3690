"""Property tests: generated FastAPI modules rewrite to code that parses, a second rewrite
changes nothing, and code without a BackgroundTasks use is never touched. With
``hypothesmith``-generated programs, the finder never crashes."""

from __future__ import annotations

import ast
import tempfile
from pathlib import Path

import hypothesmith
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bgmigrate.codemods.facts import Hints
from bgmigrate.codemods.finder import analyze
from bgmigrate.codemods.pyproject import CodemodConfig
from bgmigrate.codemods.rewrite_run import changes
from bgmigrate.codemods.runner import Configured, analyse
from tests.codemods.golden import chdir

IMPORTS = [
    ("from fastapi import BackgroundTasks", "BackgroundTasks"),
    ("from fastapi import BackgroundTasks as BT", "BT"),
    ("from starlette.background import BackgroundTasks", "BackgroundTasks"),
    ("import fastapi", "fastapi.BackgroundTasks"),
]
ANNOTATIONS = ["{}", '"{}"', "Annotated[{}, 'tasks']", "{} | None = None", "Optional[{}] = None"]
BODIES = ["time.sleep(1)", "print(x)", "db.commit()", "os.remove(x)", "requests.get(x)", "pass"]
CALLABLES = ["job_{i}", "lambda: job_{i}(1)", "functools.partial(job_{i}, 1)"]


NOT_A_USE = [
    ("from rich.progress import Progress", "Progress"),
    ("from app import Monitor", "Monitor"),
]


@st.composite
def modules(draw: st.DrawFn, imports: list[tuple[str, str]] = IMPORTS) -> str:
    """A FastAPI module with tasks, one endpoint and some add_task calls."""
    statement, name = draw(st.sampled_from(imports))
    lines = [
        "import functools, os, time",
        "from typing import Annotated, Optional",
        "import requests",
        statement,
        "from fastapi import FastAPI",
        "app = FastAPI()",
    ]
    count = draw(st.integers(1, 3))
    for i in range(count):
        prefix = draw(st.sampled_from(["def", "async def"]))
        body = draw(st.sampled_from(BODIES))
        lines += [f"{prefix} job_{i}(x):", f"    {body}  # keep this comment", ""]
    annotation = draw(st.sampled_from(ANNOTATIONS)).format(name)
    method = draw(st.sampled_from(["get", "post"]))
    lines += [f"@app.{method}('/run')", f"def run(x: int, bt: {annotation}):"]
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, count - 1))
        task = draw(st.sampled_from(CALLABLES)).format(i=i)
        guard = draw(st.sampled_from(["", "if x: ", "for _ in range(x): "]))
        lines.append(f"    {guard}bt.add_task({task}, x)")
    return "\n".join(lines) + "\n"


def _rewrite(source: str) -> dict[str, bytes]:
    """Rewrite ``app.py`` holding ``source`` twice: ``(first changes, second changes)``."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "app.py").write_text(source)
        return _changes(root)


def _changes(root: Path) -> dict[str, bytes]:
    with chdir(root):
        run = analyse([Path(".")], Configured(CodemodConfig(), root), root, 1, False)
        return {c.source.display_path: c.after for c in changes(run, [])}


@settings(deadline=None, max_examples=25)
@given(source=modules())
def test_rewrite_parses_and_a_second_run_changes_nothing(source: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "app.py").write_text(source)
        first = _changes(root)
        assert first, "every generated module uses BackgroundTasks"
        for name, data in first.items():
            ast.parse(data)
            (root / name).write_bytes(data)
        assert _changes(root) == {}


@settings(deadline=None, max_examples=25)
@given(source=modules(NOT_A_USE))
def test_no_change_without_a_use(source: str) -> None:
    assert _rewrite(source) == {}


@settings(
    deadline=None,
    max_examples=40,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
@given(source=hypothesmith.from_grammar())
def test_finder_never_crashes_on_generated_programs(source: str) -> None:
    prefix = "from fastapi import BackgroundTasks\n"
    facts = analyze((prefix + source).encode(), "gen.py", "gen", Hints())
    assert facts.display_path == "gen.py"
