"""The project pass: its stages, its process driver, and how a passed object finds its parameter."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.codemods.audit import run_audit
from bgmigrate.codemods.discovery import discover
from bgmigrate.codemods.facts import Param, Pass
from bgmigrate.codemods.project import build, run_jobs
from bgmigrate.codemods.pyproject import CodemodConfig

APP = """
from fastapi import BackgroundTasks, FastAPI
from tasks import work

app = FastAPI()

@app.post("/work")
def post(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(work)
"""
TASKS = """
from helpers import fetch

def work() -> None:
    fetch()
"""
HELPERS = """
import requests

def fetch() -> None:
    requests.get("https://example.com")
"""


def test_follow_reads_the_skipped_modules_the_audit_looks_into_before_it(tmp_path: Path) -> None:
    for name, source in {"app.py": APP, "tasks.py": TASKS, "helpers.py": HELPERS}.items():
        (tmp_path / name).write_text(source)
    config = CodemodConfig()
    project = build(list(discover([tmp_path], config, tmp_path)), 1)
    # Neither tasks.py nor helpers.py mentions BackgroundTasks: the byte test skips them, and
    # the follow stage reads them, before the audit starts.
    assert sorted(project.facts) == ["app.py", "helpers.py", "tasks.py"]
    report, _ = run_audit(project, config)
    assert sorted(project.facts) == ["app.py", "helpers.py", "tasks.py"]  # the audit only reads
    (site,) = report.call_sites
    assert [f.rule for f in site.findings] == ["BGM101"]
    assert [step.path for step in site.findings[0].evidence] == ["app.py", "tasks.py", "helpers.py"]


def test_run_jobs_gives_the_same_results_in_order_in_processes_and_in_this_one() -> None:
    work = list(range(-50, 50))
    assert (
        list(run_jobs(work, abs, 2, 8)) == list(run_jobs(work, abs, 1, 8)) == list(map(abs, work))
    )


def test_a_passed_object_reaches_its_parameter_by_keyword_or_position() -> None:
    params = (Param("self", 0, False), Param("tasks", 1, False), Param("flag", -1, False))
    by_position = Pass("m.C.run", 0, None)
    by_keyword = Pass("m.C.run", -1, "flag")
    assert [p.name for p in by_position.receivers(params, is_method=True)] == ["tasks"]
    assert [p.name for p in by_position.receivers(params, is_method=False)] == ["self"]
    assert [p.name for p in by_keyword.receivers(params, is_method=True)] == ["flag"]
