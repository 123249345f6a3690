"""Jobs as the outbox relay hands them to a backend's ``relay``, and Redis refusing them."""

from __future__ import annotations

from typing import Any, cast

import redis

from bgmigrate.backend import Job
from bgmigrate.codec import EncodedCall
from bgmigrate.testing import conformance_tasks as tasks
from bgmigrate.testing.polling import wait_until


def relayed_jobs(count: int) -> list[Job]:
    """``count`` calls of ``add(n, 0)`` as outbox rows become jobs: JSON arguments, ids in
    their order, one publication id."""
    return [
        Job(
            task=tasks.add,
            args=(),
            kwargs={},
            encoded=EncodedCall(f"[{n}, 0]", "{}"),
            id=f"relayed{n:04}",
            publish_id="publication",
        )
        for n in range(count)
    ]


def wait_for_refusals(client: redis.Redis, parts: int) -> None:
    """Wait until Redis (out of memory since its statistics were reset) has refused ``parts``
    commands: a part of a batch still unread when the limit is lifted would be written."""

    def refused() -> int:
        errors = cast(dict[str, Any], client.info("errorstats"))
        return int(errors.get("errorstat_OOM", {"count": 0})["count"])

    wait_until(lambda: refused() >= parts, timeout=10, what=f"Redis to refuse {parts} parts")
