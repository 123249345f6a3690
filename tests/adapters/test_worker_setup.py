"""What every worker does first: import TASK_MODULES and insist that they register tasks."""

from __future__ import annotations

import pytest

from bgmigrate.adapters import worker_setup
from bgmigrate.errors import ConfigError
from bgmigrate.registry import TaskRegistry
from bgmigrate.settings import load_settings


def test_a_worker_with_no_registered_task_says_which_setting_to_set(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(worker_setup, "registry", TaskRegistry())
    with pytest.raises(ConfigError, match="set BGMIGRATE_TASK_MODULES"):
        worker_setup.import_task_modules(load_settings(task_modules=["json"]))


def test_a_module_that_fails_to_import_is_named_with_the_fix() -> None:
    with pytest.raises(ConfigError, match=r"cannot import 'app\.nope'.*PYTHONPATH"):
        worker_setup.import_task_modules(load_settings(task_modules=["app.nope"]))
