"""Real PostgreSQL for tests: a fresh database on the shared server, or private servers.

Tests find PostgreSQL at ``BGMIGRATE_TEST_POSTGRES_URL`` (default
``postgresql://127.0.0.1:5432/test``) and create a database of their own there, dropped at the
end. When nothing answers, a private ``postgres`` is started in a temporary directory with
``initdb``. Fault tests (killing or restarting PostgreSQL) always use their own private servers
from :class:`PostgresServerFactory`.

PostgreSQL refuses to run as root: when the tests run as root, ``initdb`` and ``postgres`` run
as the ``postgres`` account (``setpriv``, which execs in place so signals reach the server),
the account the Debian and RPM packages create.

Needs psycopg 3 (``pip install 'psycopg[binary]'``); it is imported when first used, so loading
the pytest plugin does not need it.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import subprocess
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from bgmigrate.testing.polling import WaitTimeout, wait_until
from bgmigrate.testing.private_servers import ServerPool, signal_and_wait
from bgmigrate.testing.redis_servers import free_port

TEST_POSTGRES_URL_ENV = "BGMIGRATE_TEST_POSTGRES_URL"
DEFAULT_TEST_POSTGRES_URL = "postgresql://127.0.0.1:5432/test"
SERVICE_ACCOUNT = "postgres"
"""The account private servers run as when the tests run as root."""

NO_POSTGRES_FIX = (
    "no PostgreSQL answers at {url} and no `initdb`/`postgres` binaries are on PATH. Fix: install "
    "PostgreSQL (`apt-get install postgresql` or `brew install postgresql`) and put its bin "
    "directory on PATH, or start one and point "
    f"{TEST_POSTGRES_URL_ENV} at it, e.g. {TEST_POSTGRES_URL_ENV}=postgresql://127.0.0.1:5432/test"
)


class PostgresUnavailable(RuntimeError):
    """Neither a running PostgreSQL nor its binaries are available; says how to fix it."""


def with_database(url: str, database: str) -> str:
    """Return ``url`` naming ``database`` instead of the database it names."""
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{database}", parts.query, parts.fragment))


def configured_test_postgres_url() -> str:
    """The configured PostgreSQL URL for tests (its database is only used to create others)."""
    return os.environ.get(TEST_POSTGRES_URL_ENV, DEFAULT_TEST_POSTGRES_URL)


def answers(url: str) -> bool:
    """True when a PostgreSQL server at ``url`` accepts a connection and runs ``SELECT 1``."""
    import psycopg

    try:
        with psycopg.connect(url, connect_timeout=2) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error:
        return False
    return True


def create_database(url: str, prefix: str = "bgmigrate_test") -> str:
    """Create a new, empty database on the server at ``url``; return the URL naming it."""
    import psycopg

    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return with_database(url, name)


def drop_database(url: str) -> None:
    """Drop the database ``url`` names, disconnecting whoever still uses it."""
    import psycopg

    name = urlsplit(url).path.strip("/")
    with psycopg.connect(with_database(url, "postgres"), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _binaries_available() -> bool:
    return shutil.which("initdb") is not None and shutil.which("postgres") is not None


def _as_service_account(argv: list[str]) -> list[str]:
    """``argv`` run as the PostgreSQL service account when we are root, else unchanged."""
    if os.geteuid() != 0:
        return argv
    account = [f"--reuid={SERVICE_ACCOUNT}", f"--regid={SERVICE_ACCOUNT}", "--init-groups"]
    return ["setpriv", *account, *argv]


@dataclass
class PostgresServer:
    """A private ``postgres`` process; stop, kill and restart it to simulate faults."""

    port: int
    datadir: Path
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def url(self) -> str:
        """URL of the ``postgres`` database on this server, as its superuser."""
        return f"postgresql://{self._superuser()}@127.0.0.1:{self.port}/postgres"

    def _superuser(self) -> str:
        return SERVICE_ACCOUNT if os.geteuid() == 0 else pwd.getpwuid(os.geteuid()).pw_name

    def init(self) -> None:
        """Create the cluster's data directory with ``initdb`` (trust authentication)."""
        initdb = shutil.which("initdb")
        if initdb is None:
            raise PostgresUnavailable(NO_POSTGRES_FIX.format(url=self.url))
        if os.geteuid() == 0:
            account = pwd.getpwnam(SERVICE_ACCOUNT)
            os.chown(self.datadir, account.pw_uid, account.pw_gid)
            os.chown(self.datadir.parent, account.pw_uid, account.pw_gid)
        argv = [initdb, "-D", str(self.datadir), "-A", "trust", "-U", self._superuser()]
        result = subprocess.run(
            _as_service_account([*argv, "--no-sync", "-E", "UTF8"]),
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise PostgresUnavailable(f"initdb failed:\n{result.stderr.decode(errors='replace')}")

    def start(self, timeout: float = 30.0) -> None:
        """Start the server and wait until it accepts connections."""
        postgres = shutil.which("postgres")
        if postgres is None:
            raise PostgresUnavailable(NO_POSTGRES_FIX.format(url=self.url))
        argv = [postgres, "-D", str(self.datadir), "-p", str(self.port)]
        argv += ["-c", "listen_addresses=127.0.0.1"]
        argv += ["-c", f"unix_socket_directories={self.datadir}"]
        log = (self.datadir.parent / "postgres.log").open("ab")
        self.process = subprocess.Popen(
            _as_service_account(argv), stdout=log, stderr=subprocess.STDOUT
        )
        log.close()
        wait_until(self._ready, timeout=timeout, what=f"postgres on port {self.port}")

    def _ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            tail = (self.datadir.parent / "postgres.log").read_text(errors="replace")[-2000:]
            raise PostgresUnavailable(f"postgres on port {self.port} exited:\n{tail}")
        return answers(self.url)

    def stop(self, timeout: float = 30.0) -> None:
        """Shut the server down cleanly (fast shutdown: open transactions roll back)."""
        signal_and_wait(self.process, signal.SIGINT, timeout)

    def kill(self, timeout: float = 30.0) -> None:
        """Kill the server abruptly, as a crash would (it recovers from its WAL on start)."""
        signal_and_wait(self.process, signal.SIGKILL, timeout)

    def restart(self) -> None:
        """Stop the server and start it again on the same port with the same data."""
        self.stop()
        self.start()


class PostgresServerFactory(ServerPool[PostgresServer]):
    """Starts private PostgreSQL servers and removes all of them on :meth:`close`."""

    def __init__(self) -> None:
        super().__init__(prefix="bgmigrate-postgres-")

    def __call__(self) -> PostgresServer:
        """Create a cluster in a temporary directory and start it on a free port."""
        if not _binaries_available():
            raise PostgresUnavailable(NO_POSTGRES_FIX.format(url=configured_test_postgres_url()))
        for _attempt in range(3):
            datadir = self.workdir() / "data"
            datadir.mkdir()
            server = PostgresServer(free_port(), datadir)
            self.keep(server)
            server.init()
            try:
                server.start()
            except (PostgresUnavailable, WaitTimeout):
                # Another process may have taken the port between probe and bind: try again.
                server.kill()
                continue
            return server
        raise PostgresUnavailable("could not start a private postgres after 3 attempts")


def find_or_start_test_postgres(factory: PostgresServerFactory) -> str:
    """URL of a server for tests to create databases on: the configured one, else a private one."""
    url = configured_test_postgres_url()
    if answers(url):
        return url
    if not _binaries_available():
        raise PostgresUnavailable(NO_POSTGRES_FIX.format(url=url))
    return factory().url
