"""``bgmigrate outbox`` (create or print the outbox table) and ``bgmigrate relay``."""

from __future__ import annotations

import gc
import logging
import os
import signal
import sys
import threading
from typing import Annotated, Any, NoReturn

import typer

from bgmigrate.errors import BgmigrateError

app = typer.Typer(
    no_args_is_help=True,
    help="""Create the outbox table, or print its DDL for your migrations.

Outbox mode writes a request's tasks into this PostgreSQL table inside the request's own
transaction; `bgmigrate relay` moves them to the broker. The table is BGMIGRATE_OUTBOX_TABLE
(default bgmigrate_outbox) in the database at BGMIGRATE_OUTBOX_URL.
Exit codes: 0 done, 2 a configuration or database error.

Examples:

  bgmigrate outbox init
  bgmigrate outbox ddl > migrations/bgmigrate_outbox.sql
""",
)


def _fail(command: str, exc: Exception) -> NoReturn:
    typer.secho(f"bgmigrate {command}: {exc}", err=True, fg=typer.colors.RED)
    raise typer.Exit(2) from exc


@app.command("ddl")
def ddl() -> None:
    """Print the CREATE TABLE statement (for Alembic: op.execute() it in a migration)."""
    from bgmigrate.outbox.table import ddl as table_ddl
    from bgmigrate.settings import load_settings

    try:
        typer.echo(table_ddl(load_settings().outbox_table), nl=False)
    except BgmigrateError as exc:
        _fail("outbox ddl", exc)


@app.command("init")
def init() -> None:
    """Create the outbox table in BGMIGRATE_OUTBOX_URL's database (if it does not exist)."""
    import psycopg

    from bgmigrate.outbox.relay import connect
    from bgmigrate.outbox.table import ddl as table_ddl
    from bgmigrate.settings import load_settings
    from bgmigrate.urls import redact_url

    try:
        settings = load_settings()
        if settings.outbox_url is None:
            raise BgmigrateError("BGMIGRATE_OUTBOX_URL is not set (postgresql://...)")
        with connect(settings.outbox_url) as conn:
            conn.execute(table_ddl(settings.outbox_table).encode())
    except psycopg.Error as exc:
        _fail("outbox init", BgmigrateError(redact_url(str(exc).strip())))
    except BgmigrateError as exc:
        _fail("outbox init", exc)
    typer.echo(f"outbox table {settings.outbox_table} is ready")


def relay(
    loglevel: Annotated[
        str, typer.Option(help="Log level: DEBUG, INFO, WARNING or ERROR.")
    ] = "INFO",
) -> None:
    """Move outbox rows to Celery or ARQ, in order, until stopped (SIGTERM or Ctrl-C).

    Reads BGMIGRATE_OUTBOX_URL's table in batches of BGMIGRATE_OUTBOX_BATCH_SIZE with SELECT
    ... FOR UPDATE SKIP LOCKED (several relays may run side by side), publishes each batch
    under the rows' job ids and deletes the rows in the same transaction. It holds two
    database connections: with a backlog, the next batch is read while one is published. A
    relay killed mid-batch leaves its rows for the next one, and no job runs twice (ARQ keeps
    one job per id; Celery workers run one publication per id). Database and broker outages
    are waited out. Configure it as the worker: BGMIGRATE_TASK_MODULES and the broker settings.

    Exit codes: 0 after SIGTERM or Ctrl-C, 2 for a configuration error.

    Examples:

      export BGMIGRATE_OUTBOX_URL=postgresql://app@127.0.0.1:5432/app
      bgmigrate relay
    """
    from bgmigrate.adapters.worker_setup import worker_settings
    from bgmigrate.outbox.relay import Relay

    logging.basicConfig(level=loglevel.upper(), format="%(asctime)s %(levelname)s %(message)s")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    stop = threading.Event()

    def _stop(*_: Any) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    try:
        outbox_relay = Relay(worker_settings())
        # What is loaded by now lives as long as the relay: full garbage collections (about one
        # per 20,000 jobs relayed) leave it alone. With Celery and kombu loaded, each took
        # 60-100 ms, 7-11% of the time the relay took to move those jobs.
        gc.collect()
        gc.freeze()
        try:
            logging.getLogger("bgmigrate.outbox").info("relay started")
            outbox_relay.run(stop)
        finally:
            outbox_relay.close()
    except BgmigrateError as exc:
        _fail("relay", exc)
