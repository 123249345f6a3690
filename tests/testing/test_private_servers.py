import signal
import subprocess
import sys
from dataclasses import dataclass

from bgmigrate.testing.private_servers import ServerPool, signal_and_wait

IGNORES_SIGTERM = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); " + (
    "print('ready', flush=True); time.sleep(60)"
)


def test_a_process_that_ignores_the_signal_is_killed_after_the_timeout() -> None:
    process = subprocess.Popen([sys.executable, "-c", IGNORES_SIGTERM], stdout=subprocess.PIPE)
    assert process.stdout is not None
    with process.stdout:
        assert process.stdout.readline() == b"ready\n"  # its handler is installed
        signal_and_wait(process, signal.SIGTERM, timeout=0.5)
    assert process.returncode == -signal.SIGKILL


def test_an_ended_or_missing_process_is_left_alone() -> None:
    process = subprocess.Popen([sys.executable, "-c", "pass"])
    process.wait()
    signal_and_wait(process, signal.SIGKILL, timeout=1)
    signal_and_wait(None, signal.SIGKILL, timeout=1)
    assert process.returncode == 0


@dataclass
class FakeServer:
    killed: bool = False

    def kill(self) -> None:
        self.killed = True


def test_closing_a_pool_kills_its_servers_and_removes_their_directories() -> None:
    pool: ServerPool[FakeServer] = ServerPool(prefix="bgmigrate-pool-test-")
    server = pool.keep(FakeServer())
    workdir = pool.workdir()
    (workdir / "data").write_text("x")
    pool.close()
    assert server.killed
    assert not workdir.exists()
