"""Each rule's own VALID/INVALID examples, run through a real scan."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgmigrate.codemods.audit import run_audit
from bgmigrate.codemods.config import CodemodConfig
from bgmigrate.codemods.discovery import discover
from bgmigrate.codemods.model import ScanReport
from bgmigrate.codemods.project import build
from bgmigrate.codemods.rules import RULES, Rule, selected
from bgmigrate.codemods.runner import load_evidence

EXAMPLES = [
    pytest.param(rule, kind, example, spec.evidence, id=f"{rule.value}-{kind}-{i}")
    for rule, spec in RULES.items()
    for kind, examples in (("valid", spec.valid), ("invalid", spec.invalid))
    for i, example in enumerate(examples)
]


def scan_source(
    source: str, root: Path, config: CodemodConfig | None = None, evidence: str = ""
) -> ScanReport:
    """Scan one ``main.py`` holding ``source`` (with a runtime stats file when given)."""
    (root / "main.py").write_text(source)
    config = config or CodemodConfig()
    observed = {}
    if evidence:
        (root / "stats.json").write_text(evidence)
        observed = load_evidence([root / "stats.json"])
    report, _ = run_audit(build(list(discover([root], config, root)), 1), config, observed)
    return report


def codes(report: ScanReport) -> set[str]:
    found = {f.rule for site in report.call_sites for f in site.findings}
    return found | {"BGM199" for _ in report.unused_suppressions}


@pytest.mark.parametrize(("rule", "kind", "example", "evidence"), EXAMPLES)
def test_rule_examples(rule: Rule, kind: str, example: str, evidence: str, tmp_path: Path) -> None:
    report = scan_source(example, tmp_path, evidence=evidence)
    assert report.call_sites, "every example has a call site"
    assert (rule.value in codes(report)) == (kind == "invalid")


def test_every_rule_has_examples_both_ways() -> None:
    for spec in RULES.values():
        assert spec.valid
        assert spec.invalid
        assert spec.summary.endswith(".")


def test_codes_are_stable_and_unique() -> None:
    assert [r.value for r in Rule] == [s.code for s in RULES.values()]
    assert all(code.startswith("BGM1") for code in (r.value for r in Rule))


def test_ignore_removes_a_rule_and_changes_the_verdict(tmp_path: Path) -> None:
    example = RULES[Rule.LONG_RUNNING].invalid[0]
    report = scan_source(example, tmp_path, CodemodConfig(ignore=("BGM101",)))
    assert codes(report) == set()
    assert report.call_sites[0].verdict.value == "keep-in-process"


def test_select_takes_prefixes() -> None:
    assert selected("BGM101", ("BGM10",), ())
    assert not selected("BGM101", ("BGM102",), ())
    assert not selected("BGM101", (), ("bgm1",))


def test_configured_slow_calls_extend_the_defaults(tmp_path: Path) -> None:
    source = RULES[Rule.LONG_RUNNING].valid[0].replace("print(name, attempt)", "mylib.crunch(name)")
    source = "import mylib\n" + source
    assert codes(scan_source(source, tmp_path)) == set()
    config = CodemodConfig(extend_slow_calls=("mylib.*",))
    assert codes(scan_source(source, tmp_path, config)) == {"BGM101"}


def test_findings_carry_evidence_from_call_site_to_trigger(tmp_path: Path) -> None:
    report = scan_source(RULES[Rule.LONG_RUNNING].invalid[0], tmp_path)
    finding = report.call_sites[0].findings[0]
    lines = [step.line for step in finding.evidence]
    assert lines == [12, 7, 8]  # add_task call -> def fetch -> requests.get


def test_evidence_gives_measured_figures_and_moves_the_task(tmp_path: Path) -> None:
    spec = RULES[Rule.OBSERVED_IN_PRODUCTION]
    report = scan_source(spec.invalid[0], tmp_path, evidence=spec.evidence)
    (site,) = report.call_sites
    (finding,) = site.findings
    assert "3 of 40 runs over budget" in finding.message
    assert "2 of 40 runs failed (2 TimeoutError)" in finding.message
    assert site.verdict.value == "migrate"
    assert scan_source(spec.invalid[0], tmp_path).call_sites[0].verdict.value == "keep-in-process"


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
