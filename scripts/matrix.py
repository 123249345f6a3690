"""The version matrix: the runtime against the oldest and newest releases bgmigrate supports.

Each session builds a fresh virtual environment with ``uv`` (Python from pyenv), installs
bgmigrate with pinned FastAPI, Celery and arq releases, and runs the tests that depend on them:
the runtime and ``Tasks`` tests, and one conformance run with a real worker per queue backend.
``make matrix`` runs every session and prints one line per session; exit status 1 if one failed.

    python scripts/matrix.py                  # every session
    python scripts/matrix.py py3.13-newest    # the named ones
"""

from __future__ import annotations

import dataclasses
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYENV = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
VENVS = ROOT / ".matrix"

RUNTIME_TESTS = ("tests/test_batch.py", "tests/test_runtime.py")
# On the oldest releases only: the codec (pydantic before 2.11 sends values another way) and
# every command's --help (typer on click).
OLDEST_ONLY_TESTS = ("tests/test_codec.py", "tests/cli/test_help.py")
# Celery on Redis and ARQ (the conformance suite's RabbitMQ run adds a broker, not a release).
WORKER_TESTS = ("tests/adapters/test_conformance.py", "-k", "not rabbitmq")
# What the tests need beside bgmigrate: Starlette's TestClient speaks httpx up to Starlette 0.x
# (before 0.28: older Starlettes pass it ``app=``) and httpx2 from 1.0; both are installed so
# that every Starlette finds its client.
# The codec tests draw values with hypothesis and round-trip SQLAlchemy and SQLModel rows; the
# CLI tests check JSON reports against their schema.
TEST_TOOLS = (
    *("pytest>=8", "pytest-timeout>=2.3", "httpx<0.28", "httpx2"),
    *("hypothesis>=6.100", "sqlalchemy>=2.0", "sqlmodel>=0.0.22", "jsonschema>=4.18"),
)
# Warnings are errors in the tests; these come from older releases meeting newer ones (an old
# Starlette on today's anyio), not from bgmigrate.
IGNORED_WARNINGS = (
    *("-W", "ignore:The anyio.abc.BlockingPortal alias:DeprecationWarning"),
    *("-W", "ignore:The 'app' shortcut is now deprecated:DeprecationWarning"),
    # typer 0.16 on click >= 8.5 (typer's own imports)
    *("-W", "ignore:'click.utils.:DeprecationWarning"),
)


@dataclasses.dataclass(frozen=True)
class Session:
    """One environment of the matrix and the tests run in it."""

    name: str
    python: str
    """A pyenv version, e.g. ``3.11.7``."""
    pins: tuple[str, ...]
    """Requirements beside ``bgmigrate[celery,arq]``."""
    tests: tuple[str, ...] = (*RUNTIME_TESTS, *WORKER_TESTS)


OLDEST_FASTAPI = "0.106.0"
"""The oldest FastAPI the matrix proves; ``pyproject.toml``'s lower bound."""
OLDEST_PYDANTIC = "2.9.2"
"""The oldest pydantic the matrix proves (its minor release is ``pyproject.toml``'s bound)."""
OLDEST_PYDANTIC_SETTINGS = "2.7.0"
"""The oldest pydantic-settings (``NoDecode``); ``pyproject.toml``'s lower bound."""
OLDEST_TYPER = "0.16.0"
"""The oldest typer (the first that runs under click 8.2); ``pyproject.toml``'s lower bound."""
OLDEST = (
    f"fastapi=={OLDEST_FASTAPI}",
    f"pydantic=={OLDEST_PYDANTIC}",
    f"pydantic-settings=={OLDEST_PYDANTIC_SETTINGS}",
    f"typer=={OLDEST_TYPER}",
    "celery[redis]==5.5.*",
    "kombu==5.5.*",
    "arq==0.26.*",
)
"""The oldest releases bgmigrate supports, as the oldest sessions install them."""

SESSIONS = (
    Session("py3.11-oldest", "3.11.7", OLDEST, (*RUNTIME_TESTS, *OLDEST_ONLY_TESTS, *WORKER_TESTS)),
    Session("py3.13-oldest", "3.13.0", OLDEST, (*RUNTIME_TESTS, *OLDEST_ONLY_TESTS, *WORKER_TESTS)),
    Session(
        "py3.11-newest",
        "3.11.7",
        ("fastapi", "celery[redis]==5.6.*", "kombu==5.6.*", "arq==0.28.*"),
    ),
    Session(
        "py3.13-newest",
        "3.13.0",
        ("fastapi", "celery[redis]==5.6.*", "kombu==5.6.*", "arq==0.28.*"),
    ),
    # The newest release of the other dispatch mechanism (no scope="function"), and the last
    # one before 0.121 added it: the runtime tests only.
    Session("py3.11-fastapi-0.117", "3.11.7", ("fastapi==0.117.1",), RUNTIME_TESTS),
)


@dataclasses.dataclass(frozen=True)
class Outcome:
    """What one session did."""

    session: Session
    summary: str
    """pytest's last line (``34 passed in 36.1s``), or why the session did not get that far."""
    seconds: float
    ok: bool


def _run(argv: list[str], log: Path) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=False)
    with log.open("a") as out:
        out.write(f"$ {' '.join(argv)}\n{result.stdout}{result.stderr}\n")
    return result


def _installed(python: Path, log: Path) -> str:
    code = (
        "from importlib.metadata import version as v; "
        "print(' '.join(f'{n}={v(n)}' for n in ('fastapi', 'starlette', 'pydantic', "
        "'pydantic-settings', 'typer', 'celery', 'kombu', 'arq', 'anyio')))"
    )
    return _run([str(python), "-c", code], log).stdout.strip()


NO_UV = (
    "make matrix needs uv (it builds each session's environment): pip install uv, "
    "into .venv or on PATH"
)


def find_uv() -> str | None:
    """``uv`` on PATH, else beside this interpreter (``pip install uv`` into .venv)."""
    beside = Path(sys.executable).parent / "uv"
    return shutil.which("uv") or (str(beside) if beside.exists() else None)


def run_session(session: Session, uv: str) -> Outcome:
    """Build the session's environment and run its tests; the full log goes to .matrix/."""
    start = time.monotonic()
    venv = VENVS / session.name
    log = VENVS / f"{session.name}.log"
    shutil.rmtree(venv, ignore_errors=True)
    log.unlink(missing_ok=True)
    interpreter = PYENV / session.python / "bin" / "python"
    python = venv / "bin" / "python"
    steps = [
        [uv, "venv", "--quiet", "--python", str(interpreter), str(venv)],
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(python),
            "-e",
            ".[celery,arq]",
            *session.pins,
            *TEST_TOOLS,
        ],
    ]
    for argv in steps:
        result = _run(argv, log)
        if result.returncode:
            return Outcome(session, f"setup failed: {argv[1]}", time.monotonic() - start, False)
    versions = _installed(python, log)
    pytest = [str(python), "-m", "pytest", "-q", "-p", "no:cacheprovider", *IGNORED_WARNINGS]
    tests = _run([*pytest, *session.tests], log)
    lines = tests.stdout.strip().splitlines()
    summary = re.sub(r"=+", "", lines[-1]).strip() if lines else "pytest printed nothing"
    return Outcome(
        session, f"{summary} [{versions}]", time.monotonic() - start, tests.returncode == 0
    )


def main(names: list[str]) -> int:
    """Run the named sessions (all by default), print one line each; 1 if any failed."""
    chosen = [s for s in SESSIONS if not names or s.name in names]
    uv = find_uv()
    if uv is None:
        print(NO_UV, file=sys.stderr)
        return 2
    VENVS.mkdir(exist_ok=True)
    failed = False
    start = time.monotonic()
    for session in chosen:
        outcome = run_session(session, uv)
        failed |= not outcome.ok
        mark = "ok  " if outcome.ok else "FAIL"
        print(f"{mark} {session.name:<22} {outcome.seconds:6.0f} s  {outcome.summary}", flush=True)
    print(f"{len(chosen)} sessions in {time.monotonic() - start:.0f} s")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
