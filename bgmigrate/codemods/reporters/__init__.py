"""Scan report renderers: ``text`` (rich), ``json`` (the contract in
docs/schema/scan-report.schema.json), ``sarif`` 2.1.0."""

from __future__ import annotations

from enum import StrEnum


class Format(StrEnum):
    """Output formats of ``bgmigrate scan``."""

    TEXT = "text"
    JSON = "json"
    SARIF = "sarif"
