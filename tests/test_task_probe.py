"""The task probe reports what importing modules registers, in a fresh interpreter."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.task_probe import probe
from bgmigrate.testing.conformance import TASK_MODULE


def test_a_fresh_interpreter_sees_only_the_tasks_its_modules_register() -> None:
    result = probe([TASK_MODULE])
    assert result.errors == {}
    assert "bgmigrate.testing.conformance_tasks.record" in result.tasks
    assert set(result.tasks.values()) == {"inprocess"}


def test_a_module_that_does_not_import_is_reported_with_its_error() -> None:
    result = probe(["no_such_module_anywhere"])
    assert result.errors == {
        "no_such_module_anywhere": "ModuleNotFoundError: No module named 'no_such_module_anywhere'"
    }


def test_like_a_worker_modules_are_found_in_the_working_directory() -> None:
    Path("here_only.py").write_text("VALUE = 1\n")  # the test runs in a temporary cwd
    assert probe(["here_only"]).errors == {}
