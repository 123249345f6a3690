"""Jobs as the outbox relay hands them to a backend's ``relay``."""

from __future__ import annotations

from bgmigrate.backend import Job
from bgmigrate.codec import EncodedCall
from bgmigrate.testing import conformance_tasks as tasks


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
