"""The ``bgmigrate`` command line: each command lives in its own module of this package."""

from __future__ import annotations

import typer

from bgmigrate import __version__
from bgmigrate.cli import config, rewrite, scan
from bgmigrate.cli.worker import worker

app = typer.Typer(
    name="bgmigrate",
    help="Move FastAPI BackgroundTasks onto real job queues (Celery, ARQ).",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"bgmigrate {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Move FastAPI BackgroundTasks onto real job queues (Celery, ARQ)."""


app.command("scan")(scan.scan)
app.command("rewrite")(rewrite.rewrite)
app.command("config")(config.config)
app.command("worker")(worker)


def main() -> None:
    """Entry point of the ``bgmigrate`` console script."""
    app()
