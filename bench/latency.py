"""Latency of a light endpoint while other requests add heavy tasks: why migrate, measured.

Run it (under 3 minutes; starts a private redis-server, uvicorn and the workers itself)::

    .venv/bin/python bench/latency.py [--rounds 3] [--duration 5] [--heavy-rate 4] [--plot PNG]

The app (``bench/latency_app.py``) is served by uvicorn in a subprocess, on loopback. This
process is the load generator: ``--light-clients`` threads call ``GET /light`` every
``--light-interval`` seconds (each on its own keep-alive connection) while one more thread
sends ``--heavy-rate`` requests per second, each adding two heavy tasks: a CPU-bound 200 ms
sync function and a sync function blocked 2 s on I/O. Scenarios, one after another on the
same machine:

- baseline: no heavy requests;
- requests without tasks: the heavy requests, adding no task (what serving them costs);
- BackgroundTasks: FastAPI's ``BackgroundTasks`` runs the heavy tasks in the web process;
- bgmigrate in-process: ``Tasks`` on the in-process backend (the web process, its own pool);
- bgmigrate -> ARQ / -> Celery: ``Tasks`` enqueues them to Redis, for a real worker process;
- ARQ, no worker: the same enqueueing with no worker running, which separates the web
  process's own cost of enqueueing from the CPU that a worker on the same machine takes.

The scenarios run one after another, ``--rounds`` times over (each round restarts the server
and workers), and each scenario's samples are pooled over the rounds, so that a slow spell of a
shared machine does not fall on one scenario only. It prints p50 and p99 of the light endpoint
per scenario (and p99 relative to the baseline), and draws them into a PNG. Timings are never
asserted: they depend on the machine; the workers share its cores with the web process here,
unlike in production.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from bgmigrate.testing.polling import wait_until
from bgmigrate.testing.redis_servers import RedisServerFactory, free_port
from bgmigrate.testing.workers import WorkerFactory, bgmigrate_command

BENCH = Path(__file__).resolve().parent
DEFAULT_PLOT = BENCH.parent / "docs" / "img" / "latency.png"
HOST = "127.0.0.1"


@dataclass(frozen=True)
class Scenario:
    """One configuration of the app under load."""

    name: str
    backend: str
    heavy_path: str | None
    """Endpoint that adds the heavy tasks (``None``: no heavy load)."""
    with_worker: bool = True
    """Start a worker for a queue backend (``False``: tasks only pile up in Redis)."""

    @property
    def worker(self) -> str | None:
        """The worker this scenario starts, if its tasks leave the web process."""
        queued = self.backend in ("arq", "celery")
        return self.backend if queued and self.with_worker else None


SCENARIOS = (
    Scenario("baseline", "inprocess", None),
    Scenario("requests without tasks", "inprocess", "/heavy/none"),
    Scenario("BackgroundTasks", "inprocess", "/heavy/background-tasks"),
    Scenario("bgmigrate in-process", "inprocess", "/heavy/bgmigrate"),
    Scenario("bgmigrate -> ARQ", "arq", "/heavy/bgmigrate"),
    Scenario("bgmigrate -> Celery", "celery", "/heavy/bgmigrate"),
    Scenario("ARQ, no worker", "arq", "/heavy/bgmigrate", with_worker=False),
)


@dataclass
class Measured:
    """What one scenario measured."""

    scenario: Scenario
    latencies: list[float] = field(default_factory=list)
    """Seconds per light request."""
    light_errors: int = 0
    heavy_sent: int = 0
    heavy_errors: int = 0

    def add(self, other: Measured) -> None:
        """Pool ``other``'s samples (another round of the same scenario) into these."""
        self.latencies += other.latencies
        self.light_errors += other.light_errors
        self.heavy_sent += other.heavy_sent
        self.heavy_errors += other.heavy_errors

    def percentile(self, p: float) -> float:
        """The ``p``-th percentile of the light latencies, in milliseconds."""
        return (
            statistics.quantiles(self.latencies, n=1000, method="inclusive")[round(p * 10) - 1]
            * 1000
        )


# -- processes --------------------------------------------------------------------------


def environment(scenario: Scenario, redis_url: str, concurrency: int) -> dict[str, str]:
    """Environment of the app server and its workers."""
    path = os.pathsep.join(filter(None, [str(BENCH), os.environ.get("PYTHONPATH")]))
    return {
        **os.environ,
        "PYTHONPATH": path,
        "BGMIGRATE_BACKEND": scenario.backend,
        "BGMIGRATE_BROKER_URL": redis_url,
        "BGMIGRATE_TASK_MODULES": "latency_app",
        "BGMIGRATE_WORKER_CONCURRENCY": str(concurrency),
        "BGMIGRATE_DRAIN_TIMEOUT": "0",
    }


@contextmanager
def app_server(env: dict[str, str]) -> Iterator[int]:
    """Serve ``latency_app`` with uvicorn in a subprocess; yield its port once it answers."""
    port = free_port()
    argv = [sys.executable, "-m", "uvicorn", "latency_app:app", "--host", HOST]
    argv += ["--port", str(port), "--no-access-log", "--log-level", "warning"]
    argv += ["--timeout-graceful-shutdown", "1"]
    with tempfile.TemporaryFile() as log:
        server = subprocess.Popen(argv, cwd=BENCH, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            wait_until(lambda: _answers(port, server, log), timeout=30, what="the app server")
            yield port
        finally:
            _stop(server)


def _stop(server: subprocess.Popen[bytes]) -> None:
    server.terminate()
    try:
        server.wait(10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


def _answers(port: int, server: subprocess.Popen[bytes], log: IO[bytes]) -> bool:
    if server.poll() is not None:
        log.seek(0)
        tail = log.read().decode(errors="replace")[-3000:]
        raise RuntimeError(f"the app server exited with {server.returncode}:\n{tail}")
    try:
        return request(port, "GET", "/light", keep=None) == 200
    except OSError:
        return False


# -- load -------------------------------------------------------------------------------


def request(port: int, method: str, path: str, keep: http.client.HTTPConnection | None) -> int:
    """Send one request (on ``keep`` if given, else on a new connection); the status code."""
    connection = keep or http.client.HTTPConnection(HOST, port, timeout=30)
    try:
        connection.request(method, path, headers={} if keep else {"Connection": "close"})
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        if keep is None:
            connection.close()


def light_client(
    port: int, interval: float, stop: threading.Event, limit: int, result: Measured
) -> None:
    """Call ``GET /light`` every ``interval`` seconds on one keep-alive connection until
    ``stop`` (at once when a reply came late)."""
    connection = http.client.HTTPConnection(HOST, port, timeout=30)
    due = time.perf_counter()
    try:
        for _ in range(limit):
            if stop.wait(max(0.0, due - time.perf_counter())):
                break
            start = time.perf_counter()
            due = max(due + interval, start)
            try:
                ok = request(port, "GET", "/light", keep=connection) == 200
            except OSError:
                ok = False
                connection.close()
            result.latencies.append(time.perf_counter() - start)
            result.light_errors += not ok
    finally:
        connection.close()


def heavy_sender(
    port: int, path: str, rate: float, stop: threading.Event, result: Measured
) -> None:
    """Send ``POST path`` ``rate`` times a second (open loop: a slow reply does not delay the
    next one), each on a connection of its own."""

    def send() -> None:
        try:
            ok = request(port, "POST", path, keep=None) < 300
        except OSError:
            ok = False
        result.heavy_errors += not ok

    start = time.monotonic()
    with ThreadPoolExecutor(max_workers=8, thread_name_prefix="heavy") as pool:
        while not stop.wait(max(0.0, start + result.heavy_sent / rate - time.monotonic())):
            pool.submit(send)
            result.heavy_sent += 1


def measure(scenario: Scenario, port: int, args: argparse.Namespace) -> Measured:
    """Run the load for ``args.duration`` seconds (after a warm-up) and collect latencies."""
    warmup = Measured(scenario)
    _run_load(scenario, port, args, warmup, duration=1.0)
    result = Measured(scenario)
    _run_load(scenario, port, args, result, duration=args.duration)
    return result


def _run_load(
    scenario: Scenario, port: int, args: argparse.Namespace, result: Measured, duration: float
) -> None:
    stop = threading.Event()
    limit = args.max_requests // args.light_clients
    jobs: list[Callable[[], None]] = [
        lambda: light_client(port, args.light_interval, stop, limit, result)
        for _ in range(args.light_clients)
    ]
    if scenario.heavy_path is not None:
        path = scenario.heavy_path
        jobs.append(lambda: heavy_sender(port, path, args.heavy_rate, stop, result))
    threads = [threading.Thread(target=job) for job in jobs]
    for thread in threads:
        thread.start()
    try:
        stop.wait(duration)
    finally:  # also on Ctrl-C: the clients must stop for the process to exit
        stop.set()
        for thread in threads:
            thread.join()


def run_scenario(scenario: Scenario, redis_url: str, args: argparse.Namespace) -> Measured:
    """Start the scenario's worker (if any) and app server, measure, stop them."""
    env = environment(scenario, redis_url, args.concurrency)
    with ExitStack() as stack:
        if scenario.worker is not None:
            workers = stack.enter_context(_closing(WorkerFactory()))
            worker = workers(bgmigrate_command(scenario.worker), env=env)
            # Killed, not stopped: a warm shutdown would wait for the backlog's running tasks.
            stack.callback(worker.kill)
        port = stack.enter_context(app_server(env))
        return measure(scenario, port, args)


@contextmanager
def _closing(workers: WorkerFactory) -> Iterator[WorkerFactory]:
    try:
        yield workers
    finally:
        workers.close()


# -- report -----------------------------------------------------------------------------


def table(results: list[Measured]) -> str:
    """The Markdown table the docs quote."""
    baseline = results[0].percentile(99)
    rows = [
        "| scenario | light requests | p50 (ms) | p99 (ms) | p99 / baseline | heavy requests |",
        "|---|---|---|---|---|---|",
    ]
    for r in results:
        heavy = f"{r.heavy_sent} ({r.heavy_errors} failed)" if r.scenario.heavy_path else "—"
        rows.append(
            f"| {r.scenario.name} | {len(r.latencies)} ({r.light_errors} failed) "
            f"| {r.percentile(50):.1f} | {r.percentile(99):.1f} "
            f"| x{r.percentile(99) / baseline:.2f} | {heavy} |"
        )
    return "\n".join(rows)


def plot(results: list[Measured], path: Path, title: str) -> None:
    """Grouped bars of p50 and p99 per scenario, written as a PNG."""
    from plots import grouped_bars  # bench/plots.py, beside this script

    grouped_bars(
        path,
        title=title,
        ylabel="GET /light latency (ms, log scale)",
        groups=[textwrap.fill(r.scenario.name, 16, break_long_words=False) for r in results],
        series={f"p{p}": [r.percentile(p) for r in results] for p in (50, 99)},
        label_format="%.1f",
        log_scale=True,
        size=(10, 4.8),
    )


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--duration", type=float, default=5.0, help="seconds per scenario and round"
    )
    parser.add_argument(
        "--rounds", type=int, default=3, help="rounds over all scenarios (samples are pooled)"
    )
    parser.add_argument("--heavy-rate", type=float, default=4.0, help="heavy requests per second")
    parser.add_argument("--light-clients", type=int, default=4, help="concurrent light clients")
    parser.add_argument(
        "--light-interval", type=float, default=0.02, help="seconds between a client's requests"
    )
    parser.add_argument(
        "--max-requests", type=int, default=20_000, help="cap on light requests per scenario"
    )
    parser.add_argument("--concurrency", type=int, default=10, help="tasks a worker runs at once")
    parser.add_argument(
        "--scenarios",
        nargs="+",
        choices=[s.name for s in SCENARIOS],
        default=[s.name for s in SCENARIOS],
        help="scenarios to run (the first is the reference for the ratio)",
    )
    parser.add_argument("--plot", type=Path, default=DEFAULT_PLOT, help="PNG to write")
    parser.add_argument("--no-plot", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    if args.duration <= 0 or args.heavy_rate <= 0 or min(args.light_clients, args.rounds) < 1:
        parser.error(
            "--duration and --heavy-rate must be positive, --light-clients and --rounds >= 1"
        )
    return args


def main(argv: list[str] | None = None) -> int:
    """Run every chosen scenario, print the table, draw the plot."""
    args = parse_args(argv)
    chosen = [s for s in SCENARIOS if s.name in args.scenarios]
    setup = (
        f"{args.light_clients} light clients every {args.light_interval * 1000:g} ms, "
        f"{args.heavy_rate:g} heavy requests/s (each: 200 ms CPU + 2 s blocking I/O), "
        f"{args.rounds} rounds x {args.duration:g} s per scenario, {os.cpu_count()} CPUs"
    )
    print(f"bgmigrate latency benchmark: {setup}", flush=True)
    servers = RedisServerFactory()
    results = {scenario: Measured(scenario) for scenario in chosen}
    try:
        redis_url = servers().url
        for round_number in range(1, args.rounds + 1):
            print(f"  round {round_number}/{args.rounds}", flush=True)
            for scenario in chosen:
                results[scenario].add(run_scenario(scenario, redis_url, args))
    finally:
        servers.close()
    print(table(list(results.values())))
    if not args.no_plot:
        plot(list(results.values()), args.plot, setup)
        print(f"plot written to {args.plot}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
