"""Every command explains itself with an example; ``--version`` answers."""

from __future__ import annotations

import pytest
import typer.core
import typer.main
from typer.testing import CliRunner

from bgmigrate import __version__
from bgmigrate.cli import app

runner = CliRunner()
ROOT = typer.main.get_command(app)
assert isinstance(ROOT, typer.core.TyperGroup)
COMMANDS = sorted(ROOT.commands)


def test_the_commands_are_registered() -> None:
    assert {"doctor", "worker"} <= set(COMMANDS)


@pytest.mark.parametrize("argv", [["--help"], *([name, "--help"] for name in COMMANDS)])
def test_help_has_an_example(argv: list[str]) -> None:
    result = runner.invoke(app, argv)
    assert result.exit_code == 0
    assert "Example" in result.output


def test_version_prints_the_package_version() -> None:
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output == f"bgmigrate {__version__}\n"
