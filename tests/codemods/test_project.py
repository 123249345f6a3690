"""The project pass: its stages, its process driver, and how a passed object finds its parameter."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.codemods.audit import run_audit
from bgmigrate.codemods.discovery import discover
from bgmigrate.codemods.facts import Param, Pass
from bgmigrate.codemods.model import CallSiteReport, Verdict
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


def _scan(tmp_path: Path, sources: dict[str, str]) -> list[CallSiteReport]:
    for name, source in sources.items():
        (tmp_path / name).write_text(source)
    config = CodemodConfig()
    report, _ = run_audit(build(list(discover([tmp_path], config, tmp_path)), 1), config)
    return report.call_sites


CHOICE = """
import time
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()

def slow(n: int) -> None:
    time.sleep(n)

def quick(n: int) -> None:
    print(n)

@app.post("/a")
def a(flag: bool, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(slow if flag else quick, 1)

@app.post("/b")
def b(kind: str, background_tasks: BackgroundTasks) -> None:
    handlers = {"slow": slow, "other": globals()[kind]}
    background_tasks.add_task(handlers[kind], 1)
"""


def test_every_candidate_of_a_run_time_choice_is_audited_and_listed(tmp_path: Path) -> None:
    chosen, looked_up = _scan(tmp_path, {"app.py": CHOICE})
    assert chosen.candidates == ("app.slow", "app.quick")
    assert chosen.verdict is Verdict.MIGRATE  # the most demanding of keep and migrate
    assert [f.rule for f in chosen.findings] == ["BGM101"]
    # One candidate is not known statically: the site needs a human, and says why.
    assert looked_up.candidates == ("app.slow", "globals()[kind]")
    assert looked_up.verdict is Verdict.MANUAL
    assert looked_up.unresolved == "globals()[kind] is not known statically"


SERVICES = """
import time

class Syncer:
    def run(self, n: int) -> None:
        self._pages(n)

    def _pages(self, n: int) -> None:
        async def fetch() -> None:
            time.sleep(n)
        fetch()

syncer = Syncer()
"""
SINGLETON = """
import services
from fastapi import BackgroundTasks, FastAPI
from services import syncer

app = FastAPI()

@app.post("/sync")
def sync(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(syncer.run, 1)

@app.post("/gone")
def gone(background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(services.missing, 1)
"""


def test_a_method_of_another_modules_instance_is_followed_into_nested_functions(
    tmp_path: Path,
) -> None:
    sync, gone = _scan(tmp_path, {"app.py": SINGLETON, "services.py": SERVICES})
    assert (sync.task, sync.callable_kind) == ("services.Syncer.run", "bound_method")
    assert sync.verdict is Verdict.MIGRATE_AFTER_FIX
    (slow,) = [f for f in sync.findings if f.rule == "BGM101"]
    assert slow.evidence[-1].what.startswith("time.sleep() (via services.Syncer._pages -> ")
    # A name of the scanned tree that is not found is never kept silently.
    assert gone.verdict is Verdict.MANUAL
    assert (
        gone.unresolved
        == "services.missing names services.missing, which is not a function found in the tree"
    )
