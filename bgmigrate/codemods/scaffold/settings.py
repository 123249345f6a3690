"""``[tool.bgmigrate.settings]``: the backend and the task modules, so that the app and
``bgmigrate worker`` need only ``BGMIGRATE_BROKER_URL`` from the environment."""

from __future__ import annotations

from pathlib import Path

import tomlkit
from tomlkit.items import Table

from bgmigrate.codemods.pyproject import SETTINGS_TABLE
from bgmigrate.codemods.scaffold.model import Edit, Files, Outcome, parse_toml


def _table(document: tomlkit.TOMLDocument) -> Table:
    """``[tool.bgmigrate.settings]``, created (as a super-table path) when absent."""
    tool = document.setdefault("tool", tomlkit.table(is_super_table=True))
    bgmigrate = tool.setdefault("bgmigrate", tomlkit.table(is_super_table=True))
    table = bgmigrate.setdefault(SETTINGS_TABLE, tomlkit.table())
    assert isinstance(table, Table)
    return table


def write_settings(
    files: Files, root: Path, backend: str, modules: list[str], worker_lifespan: str | None
) -> Outcome:
    """Set ``backend``, add ``modules`` to ``task-modules`` and set ``worker-lifespan`` (the
    app whose start-up workers run, when it has one) in ``root/pyproject.toml`` (created when
    the project has none); a value already set is left as it is."""
    path = root / "pyproject.toml"
    before = files.read(path)
    document = parse_toml(path, before) if before is not None else tomlkit.document()
    table = _table(document)
    outcome = Outcome()
    where = f"pyproject.toml [tool.bgmigrate.{SETTINGS_TABLE}]"
    current = table.get("backend")
    if current is None:
        table["backend"] = backend
    elif current != backend:
        outcome.left.append(f"{where} sets backend = {current!r}; --backend {backend} left it")
    present = [str(m) for m in table.get("task-modules", [])]
    missing = [m for m in modules if m not in present]
    if missing or "task-modules" not in table:
        table["task-modules"] = [*present, *missing]
    if worker_lifespan is not None and "worker-lifespan" not in table:
        table["worker-lifespan"] = worker_lifespan
    if before is None or f"bgmigrate.{SETTINGS_TABLE}]".encode() not in before:
        table.add(tomlkit.nl())  # a blank line before the table that follows, if any
    after = (tomlkit.dumps(document).rstrip("\n") + "\n").encode("utf-8")
    if after != before:
        outcome.edits.append(Edit(path, "pyproject.toml", before, after))
    listed = ", ".join([*present, *missing]) or "none yet"
    outcome.done.append(f"{where}: backend = {table['backend']!r}, task modules: {listed}")
    if "worker-lifespan" in table:
        outcome.done.append(
            f"{where}: worker-lifespan = {table['worker-lifespan']!r}: each worker process runs "
            "the app's start-up and shutdown around its tasks"
        )
    if not [*present, *missing]:
        outcome.left.append("no @task yet: run this again after adding some (it lists them)")
    outcome.left.append(
        "set BGMIGRATE_BROKER_URL (e.g. redis://redis:6379/0) for the app and the worker"
    )
    outcome.left.append(
        "your tests read these settings too: run them with BGMIGRATE_BACKEND=inprocess, "
        "or with a broker and a worker"
    )
    return outcome
