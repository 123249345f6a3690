"""The conformance suite against the in-process backend (no worker: tasks run here)."""

from __future__ import annotations

import pytest

from bgmigrate.testing.conformance import BackendConformance, BackendUnderTest


@pytest.fixture
def backend_under_test(redis_url: str) -> BackendUnderTest:
    return BackendUnderTest("inprocess", redis_url, {"backend": "inprocess"})


class TestInProcess(BackendConformance):
    """The in-process backend passes every test that does not need a worker."""
