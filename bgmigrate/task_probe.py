"""Which tasks importing some modules registers, found in a fresh interpreter.

``bgmigrate doctor`` runs ``python -m bgmigrate.task_probe MODULE...`` twice: once with
``BGMIGRATE_TASK_MODULES`` (exactly what a worker imports) and once with the application's
modules, and compares the two. A fresh process is the only honest way to know what a worker
sees: in the doctor's own process, one import would register the other's tasks too.
"""

from __future__ import annotations

import importlib
import json
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field

from bgmigrate.adapters.redelivery import held_for
from bgmigrate.errors import BgmigrateError
from bgmigrate.registry import registry
from bgmigrate.settings import load_settings

#: The probe's answer is the last line of its output, after this marker.
MARKER = "bgmigrate-task-probe:"


@dataclass(frozen=True)
class ProbeResult:
    """What importing the modules did: task name -> backend it routes to, and import errors."""

    tasks: dict[str, str]
    errors: dict[str, str]
    held: dict[str, float | None] = field(default_factory=dict)
    """Task name -> the longest a Celery worker holds one of its messages (``None``: no
    timeout), see :func:`bgmigrate.adapters.redelivery.held_for`."""


def probe(modules: Sequence[str], *, timeout: float = 60.0) -> ProbeResult:
    """Import ``modules`` in a fresh interpreter (same environment and directory) and report.

    Like ``bgmigrate worker``, ``celery -A`` and ``arq``, the interpreter finds modules in the
    working directory as well as on ``PYTHONPATH`` and in site-packages.
    """
    completed = subprocess.run(
        [sys.executable, "-m", "bgmigrate.task_probe", *modules],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in reversed(completed.stdout.splitlines()):
        if line.startswith(MARKER):
            data = json.loads(line.removeprefix(MARKER))
            return ProbeResult(tasks=data["tasks"], errors=data["errors"], held=data["held"])
    tail = (completed.stderr or completed.stdout).strip().splitlines()[-1:] or ["no output"]
    return ProbeResult(tasks={}, errors={"(probe)": f"exit {completed.returncode}: {tail[0]}"})


def _import_all(modules: Sequence[str]) -> dict[str, str]:
    errors = {}
    for module in modules:
        try:
            importlib.import_module(module)
        except Exception as exc:  # any failure at import is what the user must see
            errors[module] = f"{type(exc).__name__}: {exc}"
    return errors


def main(modules: Sequence[str]) -> int:
    """Import ``modules`` and print the registered tasks with their backends as JSON."""
    errors = _import_all(modules)
    tasks = {}
    held = {task.name: held_for(task) for task in registry}
    try:
        settings = load_settings()
    except BgmigrateError as exc:
        errors["(settings)"] = str(exc)
    else:
        tasks = {task.name: task.options.backend or settings.route(task.name) for task in registry}
    print(MARKER + json.dumps({"tasks": tasks, "errors": errors, "held": held}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
