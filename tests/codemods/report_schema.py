"""Every JSON scan report the tests see is checked against the published schema.

``load_report`` is how tests read a ``--format json`` document (from the CLI, or
``json_report.render`` of a report built in the test); ``check_report`` validates a parsed one.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "schema" / "scan-report.schema.json"
SCHEMA: dict[str, Any] = json.loads(SCHEMA_PATH.read_text())
VALIDATOR = jsonschema.Draft202012Validator(SCHEMA)


def check_report(report: dict[str, Any]) -> dict[str, Any]:
    """``report``, after asserting it is valid against docs/schema/scan-report.schema.json."""
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in VALIDATOR.iter_errors(report)]
    assert not errors, "\n".join(errors)
    return report


def load_report(text: str | bytes) -> dict[str, Any]:
    """The JSON report in ``text``, validated against the schema."""
    report: dict[str, Any] = json.loads(text)
    return check_report(report)
