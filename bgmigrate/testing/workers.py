"""Real worker processes for tests: start, wait until ready (by polling its log), clean up.

Each worker runs in its own process group so that a prefork pool's children are stopped
with it. :class:`WorkerFactory` terminates (then kills) everything it started on ``close``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bgmigrate.testing.polling import wait_until

CELERY_READY = re.compile(r"celery@\S+ ready\.")
"""Celery logs this line once the consumer is connected and consuming."""
ARQ_READY = re.compile(r"Starting worker for \d+ functions")
"""arq logs this line once its Redis pool is connected, right before it starts polling."""


class WorkerFailed(AssertionError):
    """A worker exited or never became ready; the message carries the end of its log."""


def celery_command(
    app: str = "bgmigrate.adapters.celery:app", *, concurrency: int = 1, queues: Sequence[str] = ()
) -> list[str]:
    """Argv of a quick-starting native Celery worker (no gossip/mingle/heartbeat)."""
    argv = [sys.executable, "-m", "celery", "-A", app, "worker", "--loglevel", "INFO"]
    argv += ["--concurrency", str(concurrency), "--pool", "prefork"]
    argv += ["--without-gossip", "--without-mingle", "--without-heartbeat"]
    if queues:
        argv += ["--queues", ",".join(queues)]
    return argv


def arq_command(settings: str = "bgmigrate.adapters.arq.WorkerSettings") -> list[str]:
    """Argv of a native arq worker for ``settings``."""
    return [sys.executable, "-m", "arq", settings]


def bgmigrate_command(
    backend: str, *, concurrency: int | None = None, queues: Sequence[str] = ()
) -> list[str]:
    """Argv of ``bgmigrate worker`` from the running interpreter's environment."""
    argv = [str(Path(sys.executable).parent / "bgmigrate"), "worker", "--backend", backend]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    for queue in queues:
        argv += ["--queues", queue]
    return argv


@dataclass
class WorkerProcess:
    """One worker subprocess and its log file."""

    argv: list[str]
    env: dict[str, str]
    log_path: Path
    ready: re.Pattern[str]
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self, timeout: float = 60.0) -> None:
        """Start the worker and poll its log until the ready line appears."""
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.argv,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # one group: stopping it also stops pool children
            )
        wait_until(self._is_ready, timeout=timeout, what=f"worker {self.argv[2:5]} to be ready")

    def log(self) -> str:
        """Everything the worker has written so far (stdout and stderr)."""
        return self.log_path.read_text(errors="replace")

    def wait_for_log(self, pattern: str, timeout: float = 30.0) -> re.Match[str]:
        """Poll the log until ``pattern`` (a regex) matches; fail with the log tail if not."""
        return wait_until(
            lambda: re.search(pattern, self.log()), timeout=timeout, what=f"{pattern!r} in log"
        )

    def _is_ready(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            code = self.process.returncode
            raise WorkerFailed(f"worker exited with {code}:\n{self.log()[-3000:]}")
        return self.ready.search(self.log()) is not None

    @property
    def alive(self) -> bool:
        """True while the main worker process runs."""
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """Kill the worker and its pool children at once, as a crash or OOM kill would."""
        self._signal_group(signal.SIGKILL)
        if self.process is not None:
            self.process.wait()

    def stop(self, timeout: float = 15.0) -> None:
        """Ask the worker to shut down (SIGTERM); kill the whole group if it takes too long."""
        if not self.alive:
            self._signal_group(signal.SIGKILL)  # reap orphaned pool children, if any
            return
        self._signal_group(signal.SIGTERM)
        assert self.process is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout)
        self.kill()

    def terminate(self, deadline: float) -> bool:
        """Stop the worker as ``docker stop`` or Kubernetes do: SIGTERM to the main process
        only, SIGKILL to the whole group after ``deadline`` seconds. True if it exited in time."""
        assert self.process is not None
        self.process.terminate()
        try:
            self.process.wait(deadline)
        except subprocess.TimeoutExpired:
            self.kill()
            return False
        self._signal_group(signal.SIGKILL)  # reap pool children left behind, if any
        return True

    def _signal_group(self, signum: int) -> None:
        if self.process is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signum)


class WorkerFactory:
    """Starts worker subprocesses with a given environment and stops all of them on ``close``."""

    def __init__(self, base_env: Mapping[str, str] | None = None) -> None:
        self._base_env = dict(os.environ if base_env is None else base_env)
        self._workers: list[WorkerProcess] = []
        self._logdir = tempfile.TemporaryDirectory(prefix="bgmigrate-workers-")

    def __call__(
        self,
        argv: Sequence[str],
        *,
        env: Mapping[str, str] | None = None,
        ready: re.Pattern[str] | None = None,
        timeout: float = 60.0,
    ) -> WorkerProcess:
        """Start ``argv`` with ``env`` added to the environment and wait until it is ready.

        ``ready`` defaults to the Celery or arq ready line, chosen from ``argv``.
        """
        if ready is None:
            ready = CELERY_READY if "celery" in argv else ARQ_READY
        log_path = Path(self._logdir.name) / f"worker-{len(self._workers)}.log"
        worker = WorkerProcess(list(argv), {**self._base_env, **(env or {})}, log_path, ready)
        self._workers.append(worker)
        worker.start(timeout)
        return worker

    def close(self) -> None:
        """Stop every worker this factory started and delete their logs."""
        for worker in self._workers:
            worker.stop()
        self._workers.clear()
        self._logdir.cleanup()
