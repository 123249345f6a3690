"""``bgmigrate outbox init|ddl`` and ``bgmigrate relay``: their output and their errors."""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from typer.testing import CliRunner

from bgmigrate.cli import app
from bgmigrate.outbox.table import ddl
from bgmigrate.testing.postgres_servers import create_database, drop_database

runner = CliRunner()


@pytest.fixture
def empty_database(_postgres_server_url: str) -> Iterator[str]:
    url = create_database(_postgres_server_url, prefix="bgm_ob")
    yield url
    drop_database(url)


def test_ddl_prints_the_create_table_statement_of_the_configured_table(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_OUTBOX_TABLE", "jobs.outbox")
    result = runner.invoke(app, ["outbox", "ddl"])
    assert result.exit_code == 0
    assert result.output == ddl("jobs.outbox")
    assert result.output.startswith("CREATE TABLE IF NOT EXISTS jobs.outbox (")


def test_a_table_name_that_is_not_an_identifier_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_OUTBOX_TABLE", "outbox; DROP TABLE users")
    result = runner.invoke(app, ["outbox", "ddl"])
    assert result.exit_code == 2
    assert "is not a lower-case SQL identifier" in result.output


def test_init_creates_the_table_and_can_run_again(
    empty_database: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_OUTBOX_URL", empty_database.replace("://", "+psycopg://", 1))
    for _ in range(2):
        result = runner.invoke(app, ["outbox", "init"])
        assert result.exit_code == 0, result.output
        assert "outbox table bgmigrate_outbox is ready" in result.output
    with psycopg.connect(empty_database) as conn:
        assert conn.execute("SELECT count(*) FROM bgmigrate_outbox").fetchone() == (0,)


def test_init_without_a_database_url_says_what_to_set() -> None:
    result = runner.invoke(app, ["outbox", "init"])
    assert result.exit_code == 2
    assert "BGMIGRATE_OUTBOX_URL is not set" in result.output


def test_init_names_an_unreachable_database_without_its_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_OUTBOX_URL", "postgresql://app:s3cret@127.0.0.1:1/app")
    result = runner.invoke(app, ["outbox", "init"])
    assert result.exit_code == 2
    assert "bgmigrate outbox init:" in result.output
    assert "s3cret" not in result.output


def test_a_database_url_that_is_not_postgresql_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_OUTBOX_URL", "mysql://127.0.0.1/app")
    result = runner.invoke(app, ["outbox", "init"])
    assert result.exit_code == 2
    assert "is not a PostgreSQL URL" in result.output


def test_relay_without_a_database_url_exits_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "bgmigrate.testing.outbox_app")
    result = runner.invoke(app, ["relay"])
    assert result.exit_code == 2
    assert "BGMIGRATE_OUTBOX_URL is not set" in result.output


def test_relay_to_celery_without_redis_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "bgmigrate.testing.outbox_app")
    monkeypatch.setenv("BGMIGRATE_OUTBOX_URL", "postgresql://127.0.0.1:5432/test")
    monkeypatch.setenv("BGMIGRATE_BACKEND", "celery")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
    result = runner.invoke(app, ["relay"])
    assert result.exit_code == 2
    assert "set BGMIGRATE_RESULT_URL=redis://" in result.output
