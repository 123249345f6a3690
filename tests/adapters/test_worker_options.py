"""Worker pool options: the command line over the settings, mapped to Celery and ARQ."""

from __future__ import annotations

import pytest

from bgmigrate.adapters.worker_options import WorkerOptions
from bgmigrate.errors import ConfigError
from bgmigrate.settings import WorkerPool, load_settings


def test_the_command_line_wins_over_the_settings() -> None:
    settings = load_settings(worker_pool="threads", worker_concurrency=4)
    options = WorkerOptions.from_settings(settings, concurrency=2)
    assert options == WorkerOptions(pool=WorkerPool.threads, concurrency=2)


def test_celery_gets_each_option_given_and_no_other() -> None:
    assert WorkerOptions().celery_argv() == []
    options = WorkerOptions(pool=WorkerPool.prefork, concurrency=2, max_tasks_per_child=50)
    assert options.celery_argv() == [
        "--pool", "prefork", "--concurrency", "2", "--max-tasks-per-child", "50"
    ]  # fmt: skip


def test_arq_runs_the_concurrency_as_max_jobs_and_solo_as_one() -> None:
    assert WorkerOptions().arq_max_jobs() == 10
    assert WorkerOptions(pool=WorkerPool.threads, concurrency=3).arq_max_jobs() == 3
    assert WorkerOptions(pool=WorkerPool.solo).arq_max_jobs() == 1


def test_recycling_needs_prefork_children() -> None:
    with pytest.raises(ConfigError, match="the threads pool has none"):
        WorkerOptions(pool=WorkerPool.threads, max_tasks_per_child=5)


def test_an_unknown_pool_setting_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="BGMIGRATE_WORKER_POOL"):
        load_settings(worker_pool="gevent")
