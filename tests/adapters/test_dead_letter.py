"""The dead-letter list keeps the newest refused messages, bounded, in a real Redis."""

from __future__ import annotations

from collections.abc import Iterator

import anyio
import pytest
import redis
import redis.asyncio

from bgmigrate.adapters import dead_letter as dl


@pytest.fixture
def client(redis_url: str) -> Iterator[redis.Redis]:
    """A client of the test database, the dead-letter list emptied before and after."""
    with redis.Redis.from_url(redis_url) as client:
        client.delete(dl.DEAD_LETTER_KEY)
        yield client
        client.delete(dl.DEAD_LETTER_KEY)


def test_refused_messages_are_listed_newest_first_and_logged(
    client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    dl.store(client, dl.dead_letter("celery", "q", "first", b"\xff one"))
    dl.store(client, dl.dead_letter("arq", "q", "second", "two"))
    letters = dl.read_dead_letters(client)
    assert [(letter.backend, letter.reason) for letter in letters] == [
        ("arq", "second"),
        ("celery", "first"),
    ]
    assert letters[1].message == "\ufffd one"
    assert "refused a malformed message from celery queue 'q': first" in caplog.text


def test_the_list_and_each_record_are_bounded(client: redis.Redis) -> None:
    letter = dl.dead_letter("arq", "q", "huge", "x" * (dl.SHOWN * 10))
    for _ in range(dl.KEPT + 5):
        dl.store(client, letter)
    letters = dl.read_dead_letters(client)
    assert len(letters) == dl.KEPT
    assert len(letters[0].message) == dl.SHOWN


def test_the_async_store_writes_the_same_record(client: redis.Redis, redis_url: str) -> None:
    async def keep() -> None:
        async with redis.asyncio.Redis.from_url(redis_url) as aclient:
            await dl.astore(aclient, dl.dead_letter("arq", "q", "async", "m"))

    anyio.run(keep)
    assert [letter.reason for letter in dl.read_dead_letters(client)] == ["async"]


def test_an_unreachable_redis_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    with redis.Redis(port=1, socket_connect_timeout=1) as down:
        dl.store(down, dl.dead_letter("arq", "q", "lost", "m"))
    assert "could not keep the refused message" in caplog.text
