import os
import re
import sys

import pytest

from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.workers import (
    WorkerFactory,
    WorkerFailed,
    arq_command,
    celery_command,
)

READY = re.compile(r"worker ready")

# A stand-in worker with a pool child, so that stopping the process group can be observed.
FAKE_WORKER = """
import os, subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
print("child", child.pid, flush=True)
print("worker ready", os.environ["GREETING"], flush=True)
time.sleep(600)
"""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead for our purposes
        return stat.read().split()[2] != "Z"


def test_a_worker_is_ready_once_its_ready_line_is_logged_with_the_given_env(
    worker_factory: WorkerFactory,
) -> None:
    worker = worker_factory(
        [sys.executable, "-c", FAKE_WORKER], env={"GREETING": "hello"}, ready=READY
    )
    assert worker.alive
    assert "worker ready hello" in worker.log()


def test_stopping_a_worker_also_stops_its_pool_children() -> None:
    factory = WorkerFactory()
    worker = factory([sys.executable, "-c", FAKE_WORKER], env={"GREETING": "x"}, ready=READY)
    child = int(worker.wait_for_log(r"child (\d+)").group(1))
    factory.close()
    assert not worker.alive
    wait_until(lambda: not _alive(child), timeout=10, what="pool child to exit")


def test_a_worker_that_exits_early_fails_with_its_log(worker_factory: WorkerFactory) -> None:
    with pytest.raises(WorkerFailed, match=r"exited with 3:\n.*no broker"):
        worker_factory(
            [sys.executable, "-c", "print('no broker'); raise SystemExit(3)"], ready=READY
        )


def test_worker_commands_run_the_native_entry_points() -> None:
    assert celery_command(queues=["a", "b"])[1:6] == [
        "-m",
        "celery",
        "-A",
        "bgmigrate.adapters.celery:app",
        "worker",
    ]
    assert "a,b" in celery_command(queues=["a", "b"])
    assert arq_command()[1:] == ["-m", "arq", "bgmigrate.adapters.arq.WorkerSettings"]


def test_terminate_signals_the_main_process_only_then_kills_the_group_after_the_deadline(
    worker_factory: WorkerFactory,
) -> None:
    # The stand-in ignores SIGTERM (as a worker still draining would) while its child is
    # untouched by it: only the deadline's SIGKILL ends them.
    stubborn = "import signal; signal.signal(signal.SIGTERM, signal.SIG_IGN)\n" + FAKE_WORKER
    worker = worker_factory([sys.executable, "-c", stubborn], env={"GREETING": "x"}, ready=READY)
    child = int(worker.wait_for_log(r"child (\d+)").group(1))
    assert worker.terminate(deadline=0.5) is False
    assert not worker.alive
    wait_until(lambda: not _alive(child), timeout=10, what="pool child to be killed")


def test_terminate_reports_a_worker_that_exits_in_time(worker_factory: WorkerFactory) -> None:
    worker = worker_factory([sys.executable, "-c", FAKE_WORKER], env={"GREETING": "x"}, ready=READY)
    child = int(worker.wait_for_log(r"child (\d+)").group(1))
    assert worker.terminate(deadline=10) is True
    wait_until(lambda: not _alive(child), timeout=10, what="pool child to be reaped")
