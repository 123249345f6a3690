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


@pytest.mark.parametrize(
    "bomb", ["a = " + "[" * 100_000 + "]" * 100_000, "a = " + "{b = " * 5_000 + "1" + "}" * 5_000]
)
def test_a_toml_bomb_is_a_config_error_naming_the_file(bomb: str, project: Write) -> None:
    pyproject = project("pyproject.toml", bomb)
    code, _, err = invoke("config")
    assert code == 2
    message = f"{pyproject.resolve()}: cannot read configuration: nested too deeply"
    assert err == f"bgmigrate: error: {message}\n"


def test_an_oversized_pyproject_is_refused_unread(project: Write) -> None:
    pyproject = project("pyproject.toml", "# padding\n" * 1_000_001)
    code, _, err = invoke("config")
    assert code == 2
    assert f"{pyproject.resolve()}: larger than 10,000,000 bytes; not read" in err


@pytest.mark.parametrize("value", ["0", "-1", "true", '"4MB"'])
def test_max_file_size_must_be_a_positive_integer(value: str, project: Write) -> None:
    project("pyproject.toml", f"[tool.bgmigrate]\nmax-file-size = {value}\n")
    code, _, err = invoke("config")
    assert code == 2
    assert "max-file-size must be a positive integer" in err
