"""The queue backends' lazily built Redis clients: one per backend, however many threads ask."""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis

from bgmigrate.adapters.arq.backend import ArqBackend
from bgmigrate.adapters.celery.backend import CeleryBackend
from bgmigrate.settings import load_settings

THREADS = 32


@pytest.fixture
def eager_switching() -> Iterator[None]:
    """Switch threads as often as CPython allows, so that an unguarded check-then-build races."""
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(interval)


def _celery(url: str) -> Callable[[], redis.Redis]:
    return CeleryBackend(load_settings(backend="celery", broker_url=url, result_url=url))._redis


def _arq(url: str) -> Callable[[], redis.Redis]:
    return ArqBackend(load_settings(backend="arq", broker_url=url))._sync


@pytest.mark.parametrize("client_of", [_celery, _arq], ids=["celery", "arq"])
@pytest.mark.usefixtures("eager_switching")
@pytest.mark.parametrize("round_", range(5))
def test_concurrent_first_requests_build_exactly_one_client(
    client_of: Callable[[str], Callable[[], redis.Redis]], round_: int, redis_url: str
) -> None:
    client = client_of(redis_url)
    barrier = threading.Barrier(THREADS)

    def first_request(_: int) -> redis.Redis:
        barrier.wait(timeout=30)
        return client()

    with ThreadPoolExecutor(THREADS) as pool:
        clients = list(pool.map(first_request, range(THREADS)))  # kept alive: ids stay unique
    assert len({id(each) for each in clients}) == 1
