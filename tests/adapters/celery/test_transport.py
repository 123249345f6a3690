"""Which brokers get the hardened Redis transport (its behaviour: test_hostile_input.py)."""

from __future__ import annotations

import pytest
from kombu import Connection

from bgmigrate.adapters.celery.app_factory import TRANSPORT, celery_config
from bgmigrate.adapters.celery.transport import Transport
from bgmigrate.settings import load_settings


@pytest.mark.parametrize(
    ("broker", "transport"),
    [
        ("redis://127.0.0.1:6379/0", TRANSPORT),
        ("rediss://127.0.0.1:6380/0", None),  # kombu's own, for its TLS defaults
        ("amqp://guest:guest@127.0.0.1:5672//", None),
    ],
)
def test_plain_redis_brokers_use_the_transport_that_drops_undecodable_messages(
    broker: str, transport: str | None
) -> None:
    assert celery_config(load_settings(broker_url=broker)).get("broker_transport") == transport


def test_kombu_resolves_the_transport_for_a_redis_url() -> None:
    connection = Connection("redis://:pw@127.0.0.1:6379/0", transport=TRANSPORT)
    assert connection.get_transport_cls() is Transport
    assert connection.password == "pw"
