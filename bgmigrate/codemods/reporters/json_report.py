"""``--format json``: the machine-readable report (version 1), whose contract is the JSON Schema
docs/schema/scan-report.schema.json."""

from __future__ import annotations

import json

from bgmigrate.codemods.model import ScanReport


def render(report: ScanReport) -> str:
    """The report as an indented JSON document."""
    return json.dumps(report.to_json(), indent=2) + "\n"
