"""Real Redis for tests: the shared test server, or private ``redis-server`` processes.

Tests find Redis at ``BGMIGRATE_TEST_REDIS_URL`` (default ``redis://127.0.0.1:6379/15``; the
database number is reserved for tests and flushed before use). When nothing answers there a
private ``redis-server`` is started on a free port. Fault tests (killing or restarting Redis)
always use their own private servers from :class:`RedisServerFactory`.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import redis

from bgmigrate.testing.polling import WaitTimeout, wait_until
from bgmigrate.testing.private_servers import ServerPool, signal_and_wait

TEST_REDIS_URL_ENV = "BGMIGRATE_TEST_REDIS_URL"
DEFAULT_TEST_REDIS_URL = "redis://127.0.0.1:6379"
TEST_DB = 15
"""Database number used when ``BGMIGRATE_TEST_REDIS_URL`` names none."""

NO_REDIS_FIX = (
    "no Redis answers at {url} and no `redis-server` binary is on PATH. Fix: install Redis "
    "(`apt-get install redis-server` or `brew install redis`), or start one and point "
    f"{TEST_REDIS_URL_ENV} at it, e.g. {TEST_REDIS_URL_ENV}=redis://127.0.0.1:6379/15"
)


class RedisUnavailable(RuntimeError):
    """Neither a running Redis nor a ``redis-server`` binary is available; says how to fix it."""


def with_db(url: str, db: int) -> str:
    """Return ``url`` with its database number replaced by ``db``."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", parts.query, parts.fragment))


def configured_test_redis_url() -> str:
    """The configured test Redis URL, with the reserved test database when none is given.

    Under pytest-xdist each worker process is a test session of its own that flushes its
    database: worker ``gwN`` takes the database N below the configured one (modulo 16).
    """
    url = os.environ.get(TEST_REDIS_URL_ENV, DEFAULT_TEST_REDIS_URL)
    named = urlsplit(url).path.strip("/")
    db = int(named) if named.isdigit() else TEST_DB
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if worker.startswith("gw") and worker[2:].isdigit():
        db = (db - int(worker[2:])) % 16
    return with_db(url, db)


def answers(url: str) -> bool:
    """True when a Redis server at ``url`` replies to ``PING``."""
    client = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def free_port() -> int:
    """A TCP port that was free a moment ago on 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class RedisServer:
    """A private ``redis-server`` process; stop, kill and restart it to simulate faults."""

    port: int
    workdir: Path
    aof: bool = False
    password: str | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """URL of database 0 on this server (with its password, if it has one)."""
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start the server and wait until it answers ``PING``."""
        binary = shutil.which("redis-server")
        if binary is None:
            raise RedisUnavailable(NO_REDIS_FIX.format(url=self.url))
        args = [binary, "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.workdir)]
        args += ["--save", "", "--appendonly", "yes" if self.aof else "no"]
        if self.aof:
            args += ["--appendfsync", "always"]
        if self.password:
            args += ["--requirepass", self.password]
        log = (self.workdir / "redis.log").open("ab")
        self.process = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
        log.close()
        wait_until(self._ready, timeout=timeout, what=f"redis-server on port {self.port}")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = (self.workdir / "redis.log").read_text(errors="replace")[-2000:]
            raise RedisUnavailable(f"redis-server on port {self.port} exited:\n{tail}")
        return answers(self.url)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (it exits cleanly) and wait for it."""
        signal_and_wait(self.process, signal.SIGTERM, timeout)

    def kill(self, timeout: float = 10.0) -> None:
        """Kill the server abruptly, as a crash would."""
        signal_and_wait(self.process, signal.SIGKILL, timeout)

    def restart(self) -> None:
        """Start the server again on the same port (with its AOF data, if enabled)."""
        self.stop()
        self.start()


class RedisServerFactory(ServerPool[RedisServer]):
    """Starts private ``redis-server`` processes and removes all of them on :meth:`close`."""

    def __init__(self) -> None:
        super().__init__(prefix="bgmigrate-redis-")

    def __call__(self, *, aof: bool = False, password: str | None = None) -> RedisServer:
        """Start a new server on a free port; ``aof=True`` persists every write (fsync always),
        ``password`` requires clients to authenticate."""
        for _attempt in range(3):
            server = self.keep(RedisServer(free_port(), self.workdir(), aof=aof, password=password))
            try:
                server.start()
            except (RedisUnavailable, WaitTimeout):
                # Another process may have taken the port between probe and bind: try again.
                if shutil.which("redis-server") is None:
                    raise
                server.kill()
                continue
            return server
        raise RedisUnavailable("could not start a private redis-server after 3 attempts")


def find_or_start_test_redis(factory: RedisServerFactory) -> str:
    """URL of a flushed Redis database for tests: the configured one, else a private server."""
    url = configured_test_redis_url()
    if not answers(url):
        if shutil.which("redis-server") is None:
            raise RedisUnavailable(NO_REDIS_FIX.format(url=url))
        url = factory().url
    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()
    return url
