"""What private test servers (Redis, PostgreSQL) share: their process's end and their clean-up."""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path
from typing import Generic, Protocol, TypeVar


def signal_and_wait(process: subprocess.Popen[bytes] | None, signum: int, timeout: float) -> None:
    """Send ``signum`` to ``process`` if it still runs and wait for it to end; kill it if it
    outlives ``timeout``."""
    if process is None or process.poll() is not None:
        return
    process.send_signal(signum)
    try:
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


class Killable(Protocol):
    """A server that can be killed abruptly."""

    def kill(self) -> None:
        """Kill the server's process."""


ServerT = TypeVar("ServerT", bound=Killable)


class ServerPool(Generic[ServerT]):
    """Servers started in temporary directories; :meth:`close` kills every one and removes
    the directories."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._servers: list[ServerT] = []
        self._dirs: list[tempfile.TemporaryDirectory[str]] = []

    def workdir(self) -> Path:
        """A new temporary directory, removed on :meth:`close`."""
        workdir = tempfile.TemporaryDirectory(prefix=self._prefix)
        self._dirs.append(workdir)
        return Path(workdir.name)

    def keep(self, server: ServerT) -> ServerT:
        """Remember ``server`` for :meth:`close`; return it."""
        self._servers.append(server)
        return server

    def close(self) -> None:
        """Kill every server kept and delete every directory made."""
        for server in self._servers:
            server.kill()
        for workdir in self._dirs:
            workdir.cleanup()
        self._servers.clear()
        self._dirs.clear()
