from pathlib import Path

import psycopg
import pytest

from bgmigrate.testing.postgres_servers import (
    PostgresServerFactory,
    PostgresUnavailable,
    answers,
    create_database,
    drop_database,
    find_or_start_test_postgres,
    with_database,
)
from bgmigrate.testing.redis_servers import free_port


def test_with_database_replaces_the_database_name() -> None:
    assert with_database("postgresql://u@h:1/test?x=1", "other") == "postgresql://u@h:1/other?x=1"


def test_postgres_url_fixture_is_a_new_empty_database_of_its_own(postgres_url: str) -> None:
    with psycopg.connect(postgres_url) as conn:
        name = conn.execute("SELECT current_database()").fetchone()
        tables = conn.execute(
            "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchone()
    assert name is not None
    assert name[0].startswith("bgmigrate_test_")
    assert tables == (0,)


def test_a_dropped_database_is_gone(postgres_url: str) -> None:
    other = create_database(postgres_url)
    assert answers(other)
    drop_database(other)
    assert not answers(other)


def test_a_private_server_is_started_when_nothing_answers_at_the_configured_url(
    monkeypatch: pytest.MonkeyPatch, postgres_server_factory: PostgresServerFactory
) -> None:
    dead = f"postgresql://127.0.0.1:{free_port()}/test"
    monkeypatch.setenv("BGMIGRATE_TEST_POSTGRES_URL", dead)
    url = find_or_start_test_postgres(postgres_server_factory)
    assert url != dead
    assert answers(url)


def test_missing_postgres_and_missing_binaries_is_an_error_that_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BGMIGRATE_TEST_POSTGRES_URL", f"postgresql://127.0.0.1:{free_port()}/x")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no initdb, no postgres
    factory = PostgresServerFactory()
    with pytest.raises(PostgresUnavailable, match=r"apt-get install postgresql.*BGMIGRATE_TEST"):
        find_or_start_test_postgres(factory)
    factory.close()


def test_a_killed_server_restarts_with_its_committed_data(
    postgres_server_factory: PostgresServerFactory,
) -> None:
    server = postgres_server_factory()
    with psycopg.connect(server.url, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (v int)")
        conn.execute("INSERT INTO t VALUES (1)")
    server.kill()
    assert not answers(server.url)
    server.start()
    with psycopg.connect(server.url) as conn:
        assert conn.execute("SELECT v FROM t").fetchall() == [(1,)]


def test_a_stopped_server_refuses_connections_until_started_again(
    postgres_server_factory: PostgresServerFactory,
) -> None:
    server = postgres_server_factory()
    server.stop()
    assert not answers(server.url)
    server.restart()
    assert answers(server.url)
