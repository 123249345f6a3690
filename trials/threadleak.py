"""pytest plugin (``-p threadleak`` with this directory on PYTHONPATH): threads left behind.

Per test: threads alive after the test's teardown that were not alive before its setup.
A new ``bgmigrate*`` thread fails the test's teardown (the leak issue #11 point 3 names).
A new non-daemon thread is recorded (module/session fixtures such as a module-scoped
TestClient legitimately keep a portal thread across tests, so it cannot fail a single test).
At the end of the session, after every fixture is torn down, any non-daemon or ``bgmigrate*``
thread that was not there at the start fails the run (exit status 1).
The summary prints ``THREADLEAK per-test-bgmigrate=N per-test-nondaemon=N session=N``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

_BEFORE: dict[str, set[int | None]] = {}
_BGM: list[str] = []
_NONDAEMON: list[str] = []
_SESSION: list[str] = []
_START: set[int | None] = set()


def _new_alive(before: set[int | None]) -> list[threading.Thread]:
    """Threads not in ``before`` that are still alive after a short grace poll."""
    deadline = time.monotonic() + 2.0
    while True:
        new = [
            t
            for t in threading.enumerate()
            if t.ident not in before
            and t.is_alive()
            and (not t.daemon or t.name.startswith("bgmigrate"))
        ]
        if not new or time.monotonic() > deadline:
            return new
        time.sleep(0.05)  # poll: a thread that is just ending is not a leak


def pytest_sessionstart(session: pytest.Session) -> None:
    _START.update(t.ident for t in threading.enumerate())


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    _BEFORE[item.nodeid] = {t.ident for t in threading.enumerate()}
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    yield
    new = _new_alive(_BEFORE.pop(item.nodeid, set()))
    bgm = [t for t in new if t.name.startswith("bgmigrate")]
    _BGM.extend(f"{item.nodeid}: {t.name}" for t in bgm)
    _NONDAEMON.extend(f"{item.nodeid}: {t.name}" for t in new if not t.daemon and t not in bgm)
    if bgm:
        raise AssertionError(f"leaked bgmigrate threads: {[t.name for t in bgm]}")


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    left = _new_alive(_START)
    _SESSION.extend(f"{t.name} (daemon={t.daemon})" for t in left)
    if left:
        session.exitstatus = 1


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    terminalreporter.write_line(
        f"THREADLEAK per-test-bgmigrate={len(_BGM)} per-test-nondaemon={len(_NONDAEMON)} "
        f"session={len(_SESSION)}"
    )
    for leak in _BGM:
        terminalreporter.write_line(f"THREADLEAK bgmigrate {leak}")
    for leak in _NONDAEMON:
        terminalreporter.write_line(f"THREADLEAK nondaemon {leak}")
    for leak in _SESSION:
        terminalreporter.write_line(f"THREADLEAK session {leak}")
