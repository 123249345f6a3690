"""``bgmigrate jobs``: its options, its errors and the dead letters (the failed-job workflow on
real workers is in ``tests/adapters/test_failed_jobs.py``)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import redis
import typer
from typer.testing import CliRunner

from bgmigrate.adapters import dead_letter as dl
from bgmigrate.cli import app
from bgmigrate.cli.jobs import parse_since
from bgmigrate.failed_jobs import INDEX_KEY, RECORDS_KEY, failed_job, keep
from bgmigrate.settings import load_settings

runner = CliRunner()


@pytest.fixture
def env(redis_url: str) -> Iterator[dict[str, str]]:
    """The CLI's environment: the failed-job store and broker in the test database, emptied."""
    with redis.Redis.from_url(redis_url) as client:
        client.delete(INDEX_KEY, RECORDS_KEY, dl.DEAD_LETTER_KEY)
        yield {"BGMIGRATE_FAILED_JOBS_URL": redis_url, "BGMIGRATE_BROKER_URL": redis_url}
        client.delete(INDEX_KEY, RECORDS_KEY, dl.DEAD_LETTER_KEY)


def test_since_takes_a_duration_or_an_iso_time() -> None:
    assert parse_since("90s", now=1000.0) == 910.0
    assert parse_since("2h", now=10_000.0) == 2800.0
    assert parse_since("1d", now=100_000.0) == 13_600.0
    moment = datetime(2026, 11, 30, 12, tzinfo=UTC)
    assert parse_since("2026-11-30T12:00:00") == moment.timestamp()
    assert parse_since("2026-11-30T13:00:00+01:00") == moment.timestamp()
    with pytest.raises(typer.BadParameter, match="neither a duration"):
        parse_since("yesterday")


def test_failed_lists_records_for_people(env: dict[str, str]) -> None:
    settings = load_settings(failed_jobs_url=env["BGMIGRATE_FAILED_JOBS_URL"])
    keep(settings, failed_job("j1", "app.mail", "arq", (("ada",), {}), KeyError("x"), 3, None))
    result = runner.invoke(app, ["jobs", "failed", "--since", "1h"], env=env)
    assert result.exit_code == 0, result.output
    assert "j1 app.mail('ada') arq, 3 attempt(s), failed" in result.output
    assert "builtins.KeyError: 'x'" in result.output
    assert "1 failed job(s)" in result.output


def test_failed_shows_the_dead_letters(env: dict[str, str]) -> None:
    with redis.Redis.from_url(env["BGMIGRATE_BROKER_URL"]) as client:
        dl.store(client, dl.dead_letter("arq", "arq:queue", "not JSON", b"\x00"))
    result = runner.invoke(app, ["jobs", "failed", "--dead-letters"], env=env)
    assert result.exit_code == 0, result.output
    assert [letter["reason"] for letter in json.loads(result.output)] == ["not JSON"]


@pytest.mark.parametrize("command", ["retry", "discard"])
def test_retry_and_discard_need_an_id_or_all(env: dict[str, str], command: str) -> None:
    assert runner.invoke(app, ["jobs", command], env=env).exit_code == 2
    assert runner.invoke(app, ["jobs", command, "x", "--all"], env=env).exit_code == 2


def test_an_unknown_id_exits_1(env: dict[str, str]) -> None:
    result = runner.invoke(app, ["jobs", "retry", "nope"], env=env)
    assert result.exit_code == 1
    assert "no failed job with id 'nope'" in result.output


def test_without_a_store_the_fix_is_named() -> None:
    result = runner.invoke(app, ["jobs", "failed"], env={"BGMIGRATE_BROKER_URL": "amqp://h//"})
    assert result.exit_code == 2
    assert "set BGMIGRATE_FAILED_JOBS_URL" in result.output
