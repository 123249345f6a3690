"""``bgmigrate config`` prints the effective configuration."""

from __future__ import annotations

import json

import pytest

from tests.cli.conftest import Write
from tests.codemods.golden import invoke


def test_prints_file_values_overridden_by_flags(project: Write) -> None:
    project("pyproject.toml", '[tool.bgmigrate]\nselect = ["BGM101"]\nextend-exclude = ["gen"]\n')
    code, out, _ = invoke("config", "--ignore", "BGM102")
    assert code == 0
    data = json.loads(out)
    assert data["select"] == ["BGM101"]
    assert data["ignore"] == ["BGM102"]
    assert data["extend-exclude"] == ["gen"]
    assert ".venv" in data["exclude"]


def test_invalid_type_is_a_config_error(project: Write) -> None:
    project("pyproject.toml", '[tool.bgmigrate]\nselect = "BGM101"\n')
    code, _, err = invoke("config")
    assert code == 2
    assert "select must be a list of strings" in err


@pytest.mark.parametrize("command", ["scan", "rewrite", "config"])
def test_help_shows_the_configuration_table_name(command: str) -> None:
    code, out, _ = invoke(command, "--help")
    assert code == 0
    assert "[tool.bgmigrate]" in out  # rich markup must not swallow it
