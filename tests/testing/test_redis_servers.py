import shutil
from pathlib import Path

import pytest
import redis

from bgmigrate.testing.redis_servers import (
    RedisServerFactory,
    RedisUnavailable,
    answers,
    configured_test_redis_url,
    find_or_start_test_redis,
    free_port,
    with_db,
)


def test_the_configured_url_gets_the_reserved_test_database_when_it_names_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)
    monkeypatch.setenv("BGMIGRATE_TEST_REDIS_URL", "redis://example:6380")
    assert configured_test_redis_url() == "redis://example:6380/15"
    monkeypatch.setenv("BGMIGRATE_TEST_REDIS_URL", "redis://example:6380/3")
    assert configured_test_redis_url() == "redis://example:6380/3"


def test_each_xdist_worker_gets_a_database_of_its_own(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_TEST_REDIS_URL", "redis://example:6380/15")
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw0")
    assert configured_test_redis_url() == "redis://example:6380/15"
    monkeypatch.setenv("PYTEST_XDIST_WORKER", "gw3")
    assert configured_test_redis_url() == "redis://example:6380/12"
    monkeypatch.setenv("BGMIGRATE_TEST_REDIS_URL", "redis://example:6380/1")
    assert configured_test_redis_url() == "redis://example:6380/14"


def test_with_db_replaces_the_database_number() -> None:
    assert with_db("redis://:pw@h:1/2?x=1", 9) == "redis://:pw@h:1/9?x=1"


def test_redis_url_fixture_is_a_flushed_database_that_answers(redis_url: str) -> None:
    assert answers(redis_url)


def test_a_private_server_is_started_when_nothing_answers_at_the_configured_url(
    monkeypatch: pytest.MonkeyPatch, redis_server_factory: RedisServerFactory
) -> None:
    dead = f"redis://127.0.0.1:{free_port()}/15"
    monkeypatch.setenv("BGMIGRATE_TEST_REDIS_URL", dead)
    url = find_or_start_test_redis(redis_server_factory)
    assert url != dead
    assert answers(url)


def test_missing_redis_and_missing_binary_is_an_error_that_names_the_fix(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("BGMIGRATE_TEST_REDIS_URL", f"redis://127.0.0.1:{free_port()}/15")
    monkeypatch.setenv("PATH", str(tmp_path))  # an empty directory: no redis-server
    factory = RedisServerFactory()
    with pytest.raises(RedisUnavailable, match=r"apt-get install redis-server.*BGMIGRATE_TEST"):
        find_or_start_test_redis(factory)
    factory.close()


def test_a_killed_aof_server_restarts_with_its_data(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory(aof=True)
    client = redis.Redis.from_url(server.url)
    client.set("kept", "yes")
    server.kill()
    assert not answers(server.url)
    server.start()
    assert client.get("kept") == b"yes"
    client.close()


def test_a_server_without_aof_loses_its_data_on_restart(
    redis_server_factory: RedisServerFactory,
) -> None:
    server = redis_server_factory()
    client = redis.Redis.from_url(server.url)
    client.set("lost", "yes")
    server.restart()
    assert client.get("lost") is None
    client.close()


def test_the_factory_removes_its_servers_on_close() -> None:
    factory = RedisServerFactory()
    server = factory()
    factory.close()
    assert not answers(server.url)
    assert not server.workdir.exists()


def test_redis_server_binary_is_installed_here() -> None:
    # The machine running this suite must have redis-server: fault tests depend on it.
    assert shutil.which("redis-server"), "install redis-server (apt-get install redis-server)"
