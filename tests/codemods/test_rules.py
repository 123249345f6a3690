"""Each rule's own VALID/INVALID examples, run through a real scan."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from bgmigrate.codemods.audit import run_audit
from bgmigrate.codemods.discovery import discover
from bgmigrate.codemods.model import ScanReport
from bgmigrate.codemods.project import build
from bgmigrate.codemods.pyproject import CodemodConfig
from bgmigrate.codemods.reporters import json_report
from bgmigrate.codemods.rules import RULES, Invalid, example_source, selected
from bgmigrate.codemods.rules._base import Effect
from bgmigrate.codemods.runner import load_evidence
from tests.codemods.report_schema import load_report

VALID = [
    pytest.param(code, example, spec.evidence, id=f"{code}-valid-{i}")
    for code, spec in RULES.items()
    for i, example in enumerate(spec.valid)
]
INVALID = [
    pytest.param(code, example, spec.evidence, id=f"{code}-invalid-{i}")
    for code, spec in RULES.items()
    for i, example in enumerate(spec.invalid)
]


def scan_source(
    source: str, root: Path, config: CodemodConfig | None = None, evidence: str = ""
) -> ScanReport:
    """Scan one ``main.py`` holding the example ``source`` (with a runtime stats file when
    given)."""
    (root / "main.py").write_text(example_source(source))
    config = config or CodemodConfig()
    observed = {}
    if evidence:
        (root / "stats.json").write_text(evidence)
        observed = load_evidence([root / "stats.json"])
    report, _ = run_audit(build(list(discover([root], config, root)), 1), config, observed)
    load_report(json_report.render(report))
    return report


def reported(report: ScanReport) -> set[tuple[str, int, int]]:
    """Every finding as (code, line, column), where the report puts it."""
    found = {(f.rule, s.line, s.column) for s in report.call_sites for f in s.findings}
    return found | {("BGM199", u.line, 0) for u in report.unused_suppressions}


def codes(report: ScanReport) -> set[str]:
    return {code for code, _, _ in reported(report)}


@pytest.mark.parametrize(("code", "example", "evidence"), VALID)
def test_valid_examples_do_not_trigger(
    code: str, example: str, evidence: str, tmp_path: Path
) -> None:
    report = scan_source(example, tmp_path, evidence=evidence)
    assert report.call_sites, "every example has a call site"
    assert code not in codes(report)


@pytest.mark.parametrize(("code", "example", "evidence"), INVALID)
def test_invalid_examples_trigger_where_they_say(
    code: str, example: Invalid, evidence: str, tmp_path: Path
) -> None:
    report = scan_source(example.source, tmp_path, evidence=evidence)
    assert report.call_sites, "every example has a call site"
    locations = {(line, column) for found, line, column in reported(report) if found == code}
    assert locations == {(example.line, example.column)}


def test_every_rule_has_examples_both_ways() -> None:
    for spec in RULES.values():
        assert spec.valid
        assert spec.invalid
        assert spec.summary.endswith(".")


def test_a_rule_module_is_named_after_its_code_and_its_docstring_agrees() -> None:
    for spec in RULES.values():
        module = sys.modules[spec.check.__module__]
        assert module.__name__.rpartition(".")[2].startswith(f"{spec.code.lower()}_")
        assert (module.__doc__ or "").startswith(f"{spec.code} {spec.name}: ")


def test_codes_are_stable_and_unique() -> None:
    # Codes are never renumbered nor reused: a rule module renamed away from its code fails here.
    assert list(RULES) == [
        *("BGM101", "BGM102", "BGM103", "BGM104", "BGM105", "BGM106", "BGM107", "BGM108"),
        *("BGM111", "BGM112", "BGM113", "BGM114", "BGM115", "BGM116", "BGM117", "BGM118"),
        *("BGM119", "BGM199"),
        *("BGM201", "BGM202", "BGM203"),
    ]
    # BGM1xx read the source, BGM2xx runtime statistics.
    assert all(re.fullmatch(r"BGM[12]\d\d", code) for code in RULES)


def test_ignore_removes_a_rule_and_changes_the_verdict(tmp_path: Path) -> None:
    example = RULES["BGM101"].invalid[0].source
    report = scan_source(example, tmp_path, CodemodConfig(ignore=("BGM101",)))
    assert codes(report) == set()
    assert report.call_sites[0].verdict.value == "keep-in-process"


def test_select_takes_prefixes() -> None:
    assert selected("BGM101", ("BGM10",), ())
    assert not selected("BGM101", ("BGM102",), ())
    assert not selected("BGM101", (), ("bgm1",))


def test_configured_slow_calls_extend_the_defaults(tmp_path: Path) -> None:
    source = RULES["BGM101"].valid[0].replace("print(name, attempt)", "mylib.crunch(name)")
    source = "import mylib\n" + source
    assert codes(scan_source(source, tmp_path)) == set()
    config = CodemodConfig(extend_slow_calls=("mylib.*",))
    assert codes(scan_source(source, tmp_path, config)) == {"BGM101"}


def test_findings_carry_evidence_from_call_site_to_trigger(tmp_path: Path) -> None:
    report = scan_source(RULES["BGM101"].invalid[0].source, tmp_path)
    finding = report.call_sites[0].findings[0]
    lines = [step.line for step in finding.evidence[0]]
    assert lines == [11, 6, 7]  # add_task call -> def fetch -> requests.get


def test_evidence_gives_measured_figures_and_moves_the_task(tmp_path: Path) -> None:
    spec = RULES["BGM201"]
    report = scan_source(spec.invalid[0].source, tmp_path, evidence=spec.evidence)
    (site,) = report.call_sites
    messages = {finding.rule: finding.message for finding in site.findings}
    assert set(messages) == {"BGM201", "BGM202", "BGM203"}
    assert "3 of 40 runs over budget (p50 6.38 s, p95 95 s, max 95 s)" in messages["BGM201"]
    assert "2 of 40 runs failed (2 TimeoutError)" in messages["BGM202"]
    assert "p95 9.44 s, max 20 s over 40 runs (limit 5 s)" in messages["BGM203"]
    assert site.verdict.value == "migrate"
    without = scan_source(spec.invalid[0].source, tmp_path)
    assert without.call_sites[0].verdict.value == "keep-in-process"


def test_methods_of_clients_are_named_by_their_class(tmp_path: Path) -> None:
    source = """
import httpx
from fastapi import BackgroundTasks, FastAPI

app = FastAPI()
SHARED = httpx.Client()

async def hook(url: str) -> None:
    async with httpx.AsyncClient() as client:
        await client.post(url)

async def poll(url: str) -> None:
    SHARED.get(url)

@app.post("/hook")
async def post(url: str, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(hook, url)
    background_tasks.add_task(poll, url)
"""
    report = scan_source(source, tmp_path)
    hook, poll = report.call_sites
    assert {f.rule for f in hook.findings} == {"BGM101", "BGM102"}
    assert any("httpx.AsyncClient.post()" in f.message for f in hook.findings)
    assert {f.rule for f in poll.findings} == {"BGM101", "BGM106"}
    assert any("blocking httpx.Client.get()" in f.message for f in poll.findings)


def test_one_finding_per_rule_and_site_with_every_chain_named_as_the_code_does(
    tmp_path: Path,
) -> None:
    source = """
from fastapi import BackgroundTasks, FastAPI
from app.db import get_sync_db

app = FastAPI()

def record(order_id: int) -> None:
    with next(get_sync_db()) as db:
        db.add(order_id)
        db.commit()
    with next(get_sync_db()) as db:
        db.commit()

@app.post("/orders")
def order(order_id: int, background_tasks: BackgroundTasks) -> None:
    background_tasks.add_task(record, order_id)
"""
    (site,) = scan_source(source, tmp_path).call_sites
    (finding,) = site.findings
    assert finding.rule == "BGM102"
    assert [(chain[-1].line, chain[-1].what) for chain in finding.evidence] == [
        (9, "db.commit()"),
        (11, "db.commit()"),
    ]


def test_the_verdicts_section_of_the_rules_page_names_every_blocker() -> None:
    text = (Path(__file__).parents[2] / "docs" / "rules.md").read_text()
    bullet = text[text.index("- `migrate-after-fix`") : text.index("- `manual`")]
    named = set()
    for first, last in re.findall(r"BGM(\d+)(?:-BGM(\d+))?", bullet):
        named |= {f"BGM{n}" for n in range(int(first), int(last or first) + 1)}
    blockers = {code for code, spec in RULES.items() if spec.effect is Effect.FIX}
    assert blockers <= named, f"docs/rules.md does not list {sorted(blockers - named)}"
