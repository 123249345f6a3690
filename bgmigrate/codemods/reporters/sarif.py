"""``--format sarif``: SARIF 2.1.0 for code scanning.

Every result has a stable ``ruleId`` (the ``BGMxxx`` code), a repository-relative URI and a
``partialFingerprints`` entry built from the rule, the path, the enclosing function and the
normalised call text, so an alert survives unrelated lines moving above it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from bgmigrate import __version__
from bgmigrate.codemods.model import CallSiteReport, ScanReport, Verdict
from bgmigrate.codemods.rules import RULES

_HOME = "https://github.com/bgmigrate/bgmigrate"
_DOCS = f"{_HOME}/blob/main/docs/rules.md"
SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
OTHER_USE_RULE = {
    "id": "BGM110",
    "name": "hand-built-background",
    "shortDescription": {"text": "A hand-built BackgroundTasks/BackgroundTask to review by hand."},
}
ERROR_RULE = {
    "id": "BGM000",
    "name": "unparsable-file",
    "shortDescription": {"text": "A file that could not be parsed was skipped."},
}


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(map(str, parts)).encode()).hexdigest()[:32]


def repository_prefix(cwd: Path) -> str:
    """Where ``cwd`` is inside its git checkout (``services/api/``), so URIs are repo-relative."""
    for directory in [cwd, *cwd.parents]:
        if (directory / ".git").exists():
            relative = cwd.relative_to(directory).as_posix()
            return "" if relative == "." else relative + "/"
    return ""


def _uri(path: str, prefix: str) -> str:
    return Path(path).as_uri() if path.startswith("/") else prefix + path


def _location(path: str, line: int, column: int) -> dict[str, Any]:
    return {
        "physicalLocation": {
            "artifactLocation": {"uri": path, "uriBaseId": "%SRCROOT%"},
            "region": {"startLine": line, "startColumn": column + 1},
        }
    }


def _level(site: CallSiteReport, rule: str) -> str:
    """``note`` at a call site that stays in-process (nothing to act on), unless the finding
    is a bug today; ``warning`` otherwise."""
    if site.verdict is Verdict.KEEP and not RULES[rule].bug_today:
        return "note"
    return "warning"


def _site_results(site: CallSiteReport) -> list[dict[str, Any]]:
    results = []
    for finding in site.findings:
        text = f"{finding.message} [task {site.task or '?'}, verdict {site.verdict.value}]"
        steps = dict.fromkeys(step for chain in finding.evidence for step in chain)
        related = [
            {"id": i, **_location(e.path, e.line, 0), "message": {"text": e.what}}
            for i, e in enumerate(steps)
        ]
        # Measured figures change from run to run: they must not make the alert a new one.
        identity = None if finding.rule.startswith("BGM2") else finding.message
        result: dict[str, Any] = {
            "ruleId": finding.rule,
            "level": _level(site, finding.rule),
            "message": {"text": text},
            "locations": [_location(site.path, site.line, site.column)],
            "relatedLocations": related,
            "partialFingerprints": {
                "bgmigrate/v1": _fingerprint(
                    finding.rule, site.path, site.function, site.task, identity
                )
            },
        }
        if site.observed is not None:
            result["properties"] = {"observed": dataclasses.asdict(site.observed)}
        results.append(result)
    return results


def _rules() -> list[dict[str, Any]]:
    rules = [
        {
            "id": spec.code,
            "name": spec.name,
            "shortDescription": {"text": spec.summary},
            "helpUri": f"{_DOCS}#{spec.code.lower()}-{spec.name}",
        }
        for spec in RULES.values()
    ]
    return [*rules, OTHER_USE_RULE, ERROR_RULE]


def _result(
    rule: str, level: str, text: str, where: tuple[str, int, int], *key: object
) -> dict[str, Any]:
    return {
        "ruleId": rule,
        "level": level,
        "message": {"text": text},
        "locations": [_location(*where)],
        "partialFingerprints": {"bgmigrate/v1": _fingerprint(rule, where[0], *key)},
    }


def _rebase(results: list[dict[str, Any]], prefix: str) -> None:
    for result in results:
        for location in result["locations"] + result.get("relatedLocations", []):
            artifact = location["physicalLocation"]["artifactLocation"]
            artifact["uri"] = _uri(artifact["uri"], prefix)
            if artifact["uri"].startswith("file:"):
                del artifact["uriBaseId"]


def build(report: ScanReport, prefix: str = "") -> dict[str, Any]:
    """The SARIF log as plain data; ``prefix`` turns cwd-relative paths repo-relative."""
    results = [r for site in report.call_sites for r in _site_results(site)]
    results += [
        _result(
            str(OTHER_USE_RULE["id"]),
            "warning",
            f"{use.kind}: {use.message}",
            (use.path, use.line, use.column),
            use.kind,
        )
        for use in report.other_uses
    ]
    results += [
        _result(
            "BGM199",
            "note",
            f"unused suppression of {', '.join(unused.codes)}",
            (unused.path, unused.line, 0),
            unused.codes,
        )
        for unused in report.unused_suppressions
    ]
    results += [
        _result(str(ERROR_RULE["id"]), "error", error.message, (error.path, error.line or 1, 0))
        for error in report.errors
    ]
    _rebase(results, prefix)
    driver = {
        "name": "bgmigrate",
        "version": __version__,
        "informationUri": _HOME,
        "rules": _rules(),
    }
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [{"tool": {"driver": driver}, "results": results}],
    }


def render(report: ScanReport, cwd: Path) -> str:
    """The SARIF log as JSON text, URIs relative to the repository holding ``cwd``."""
    return json.dumps(build(report, repository_prefix(cwd)), indent=2) + "\n"
