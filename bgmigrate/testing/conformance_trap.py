"""A module no worker may import: importing it writes an alarm to Redis.

The conformance suite sends a message naming ``bgmigrate.testing.conformance_trap.run``, a task
no worker registered. A worker that imported task modules by name from messages would import
this module and the alarm would show.
"""

from __future__ import annotations

from bgmigrate.testing.conformance_tasks import TRAP_ALARM_LOG, write

write(TRAP_ALARM_LOG, "imported")


def run() -> None:
    """Never called."""
