"""``--format json``: the report and its published JSON Schema agree, and the schema can fail."""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable
from typing import Any

import jsonschema
import pytest

from bgmigrate.codemods import model
from bgmigrate.codemods.facts import CallableKind
from bgmigrate.codemods.reporters import json_report
from tests.codemods.report_schema import SCHEMA, VALIDATOR, check_report

MINIMAL = model.ScanReport()
SITE = model.CallSiteReport(
    path="app.py",
    line=3,
    column=4,
    endpoint="POST /x",
    function="app.post",
    task="app.work",
    task_path="app.py",
    task_line=1,
    task_is_async=False,
    callable_kind="function",
    verdict=model.Verdict.MIGRATE,
    findings=(model.Finding("BGM101", "slow", None, (model.Evidence("app.py", 3, "call"),)),),
)


def test_the_schema_is_a_valid_draft_2020_12_schema() -> None:
    jsonschema.Draft202012Validator.check_schema(SCHEMA)
    assert SCHEMA["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_every_report_names_the_schema_it_follows() -> None:
    rendered = json.loads(json_report.render(MINIMAL))
    assert rendered["$schema"] == SCHEMA["$id"] == model.SCHEMA_URL
    assert check_report(rendered)["version"] == 1


@pytest.mark.parametrize(
    ("definition", "cls"),
    [
        ("call_site", model.CallSiteReport),
        ("finding", model.Finding),
        ("evidence", model.Evidence),
        ("observed", model.Observed),
        ("other_use", model.OtherUseReport),
        ("error", model.ErrorReport),
        ("unused_suppression", model.UnusedSuppression),
    ],
)
def test_the_schema_names_every_field_of_the_model(definition: str, cls: type[Any]) -> None:
    properties = SCHEMA["$defs"][definition]["properties"]
    assert list(properties) == [field.name for field in dataclasses.fields(cls)]


def test_the_top_level_keys_match_the_report() -> None:
    assert list(SCHEMA["properties"]) == list(MINIMAL.to_json())


def test_verdicts_and_callable_kinds_are_the_enums_of_the_code() -> None:
    site = SCHEMA["$defs"]["call_site"]["properties"]
    assert site["verdict"]["enum"] == [v.value for v in model.Verdict]
    assert site["callable_kind"]["enum"] == [k.value for k in CallableKind]


BREAKS: dict[str, Callable[[dict[str, Any]], object]] = {
    "negative column": lambda site: site.update(column=-1),
    "unknown verdict": lambda site: site.update(verdict="later"),
    "missing field": lambda site: site.pop("function"),
    "undocumented field": lambda site: site.update(colour="red"),
    "not a rule code": lambda site: site["findings"][0].update(rule="E501"),
}


@pytest.mark.parametrize("change", list(BREAKS))
def test_a_report_that_breaks_the_contract_fails_validation(change: str) -> None:
    report = json.loads(json_report.render(model.ScanReport(call_sites=[SITE])))
    check_report(copy.deepcopy(report))
    BREAKS[change](report["call_sites"][0])
    assert not VALIDATOR.is_valid(report)
