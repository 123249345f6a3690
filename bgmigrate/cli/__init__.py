"""The ``bgmigrate`` command line: each command lives in its own module of this package."""

from __future__ import annotations

import typer

from bgmigrate import __version__
from bgmigrate.cli.doctor import doctor
from bgmigrate.cli.worker import worker

app = typer.Typer(
    name="bgmigrate",
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
    """Move FastAPI BackgroundTasks onto real job queues (Celery, ARQ).

    Examples:

      bgmigrate doctor                    # check the configuration
      bgmigrate worker --backend celery   # start a worker
    """


app.command("worker")(worker)
app.command("doctor")(doctor)


def main() -> None:
    """Entry point of the ``bgmigrate`` console script."""
    app()
