"""``bgmigrate config``: print the effective static-analysis configuration as TOML-like JSON."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from bgmigrate.cli import options
from bgmigrate.codemods.runner import effective_config


def config(
    paths: list[Path] | None = options.PATHS,
    config_file: Path | None = options.CONFIG,
    select: list[str] | None = options.SELECT,
    ignore: list[str] | None = options.IGNORE,
    exclude: list[str] | None = options.EXCLUDE,
) -> None:
    """Print the effective \\[tool.bgmigrate] configuration (file values + flags) as JSON."""
    with options.error_boundary():
        flags = options.overrides(select, ignore, exclude)
        configured = effective_config(list(paths or []), config_file, Path.cwd(), **flags)
        typer.echo(json.dumps(configured.config.to_dict(), indent=2))
