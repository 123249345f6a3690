"""The ``bgmigrate`` command line: each command lives in its own module of this package."""

from __future__ import annotations

import typer

from bgmigrate import __version__
from bgmigrate.cli import config, jobs, outbox, rewrite, scan
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


def _examples(*commands: str) -> str:
    return "Examples:\n\n" + "\n".join(f"  {command}" for command in commands)


app.command(
    "scan",
    epilog=_examples(
        "bgmigrate scan app/",
        "bgmigrate scan app/ --format json -o scan.json",
        "bgmigrate scan app/ --evidence bgmigrate-stats.json",
    ),
)(scan.scan)
app.command(
    "rewrite",
    epilog=_examples(
        "bgmigrate rewrite --diff app/    # preview, write nothing",
        "bgmigrate rewrite --check app/   # CI: exit 1 if it would change something",
        "bgmigrate rewrite app/",
        "bgmigrate rewrite --backend arq --diff .   # also settings, lifespan, deps, compose",
    ),
)(rewrite.rewrite)
app.command("config", epilog=_examples("bgmigrate config", "bgmigrate config app/"))(config.config)
app.command("worker")(worker)
app.command("doctor")(doctor)
app.add_typer(jobs.app, name="jobs")
app.add_typer(outbox.app, name="outbox")
app.command("relay")(outbox.relay)


def main() -> None:
    """Entry point of the ``bgmigrate`` console script."""
    app()
