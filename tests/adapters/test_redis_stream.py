"""A connection of one's own has its pool's settings and takes nothing from the pool."""

from __future__ import annotations

import redis

from bgmigrate.adapters.redis_stream import own_connection
from bgmigrate.testing.redis_servers import RedisServerFactory


def test_an_own_connection_has_the_pools_settings_and_leaves_its_connections_alone(
    redis_server_factory: RedisServerFactory,
) -> None:
    url = redis_server_factory().url.rsplit("/", 1)[0] + "/3"
    pool = redis.ConnectionPool.from_url(url, client_name="mine", max_connections=1)
    client = redis.Redis(connection_pool=pool)
    connections = [own_connection(pool) for _ in range(3)]
    for connection in connections:
        connection.send_command("CLIENT", "INFO")  # type: ignore[no-untyped-call]
        info = connection.read_response()  # type: ignore[no-untyped-call]
        assert {"db=3", "name=mine"} <= set(info.decode().split())
    assert client.ping()  # the pool's one connection is still its own to make
    for connection in connections:
        connection.disconnect()  # type: ignore[no-untyped-call]
    client.close()
