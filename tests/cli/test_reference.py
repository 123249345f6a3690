"""The generated CLI reference covers every command and option of the typer app."""

from __future__ import annotations

import typer.main

from bgmigrate.cli import app
from bgmigrate.cli.reference import cli_reference


def test_every_command_and_option_is_in_the_reference() -> None:
    reference = cli_reference()
    root = typer.main.get_command(app)
    commands = getattr(root, "commands", {})
    assert "## `bgmigrate`" in reference
    for name, command in commands.items():
        assert f"## `bgmigrate {name}`" in reference
        for param in command.params:
            shown = param.opts[0] if param.param_type_name == "option" else param.name.upper()
            assert f"`{shown}" in reference or f"`[{shown}]" in reference


def test_examples_become_a_shell_block_and_stars_are_escaped() -> None:
    reference = cli_reference()
    assert "```sh\nexport BGMIGRATE_TASK_MODULES=app.tasks\n" in reference
    assert "BGMIGRATE\\_\\*" not in reference
    assert "same BGMIGRATE_\\* variables" in reference
