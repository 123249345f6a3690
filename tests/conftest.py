"""Shared fixtures: a fresh in-process runtime per test, with no BGMIGRATE_* from outside."""

from __future__ import annotations

import os
from collections.abc import Iterator

import anyio
import pytest

import bgmigrate
from bgmigrate.runtime import Runtime

pytest_plugins = ["bgmigrate.testing.pytest_plugin"]


@pytest.fixture(autouse=True)
def clean_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """Tests see only the settings they set: no BGMIGRATE_* variables and no .env file."""
    for name in list(os.environ):
        if name.startswith("BGMIGRATE_") and name != "BGMIGRATE_TEST_REDIS_URL":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def runtime(clean_environment: None) -> Iterator[Runtime]:
    """A fresh in-process runtime for each test, closed (drained) afterwards."""
    current = bgmigrate.configure(backend="inprocess", drain_timeout=5)
    yield current
    anyio.run(bgmigrate.get_runtime().close)
