"""No redis, kombu, amqp, Celery or arq exception escapes an adapter unmapped."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import anyio
import pytest

import bgmigrate
from bgmigrate.backend import TaskHandle
from bgmigrate.errors import BgmigrateError
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.conformance import dead_url

BROKERS = {
    "celery-redis": ("celery", "redis://127.0.0.1:6379/0"),
    "celery-rabbitmq": ("celery", "amqp://guest:guest@127.0.0.1:5672//"),
    "arq": ("arq", "redis://127.0.0.1:6379/0"),
}


def _operations() -> dict[str, Callable[[TaskHandle], Any]]:
    return {
        "enqueue": lambda _: tasks.add.enqueue(1, 2),
        "aenqueue": lambda _: anyio.run(tasks.add.aenqueue, 1, 2),
        "status": lambda handle: handle.status(),
        "astatus": lambda handle: anyio.run(handle.astatus),
        "result": lambda handle: handle.result(timeout=1),
    }


@pytest.mark.parametrize("operation", sorted(_operations()))
@pytest.mark.parametrize("broker", sorted(BROKERS))
def test_an_unreachable_broker_raises_a_bgmigrate_error_from_the_foreign_one(
    broker: str, operation: str
) -> None:
    backend, url = BROKERS[broker]
    store = dead_url("redis://127.0.0.1:6379/1", "pw")
    bgmigrate.configure(backend=backend, broker_url=dead_url(url, "pw"), result_url=store)
    handle = TaskHandle("some-id", bgmigrate.get_runtime().backend(backend))
    with pytest.raises(BgmigrateError) as raised:
        _operations()[operation](handle)
    assert raised.value.__cause__ is not None
    assert not type(raised.value.__cause__).__module__.startswith("bgmigrate")
    assert ":pw@" not in str(raised.value)


def test_an_unreachable_rabbitmq_raises_an_enqueue_error_from_kombus() -> None:
    url = dead_url("amqp://guest:guest@127.0.0.1:5672//", "pw")
    bgmigrate.configure(backend="celery", broker_url=url)  # no result store: straight to AMQP
    with pytest.raises(BgmigrateError, match=r"amqp://guest:\*\*\*@") as raised:
        tasks.add.enqueue(1, 2)
    assert type(raised.value.__cause__).__module__.startswith("kombu")
