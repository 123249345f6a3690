"""Shared test setup: real Redis and real worker fixtures from bgmigrate.testing."""

pytest_plugins = ["bgmigrate.testing.pytest_plugin"]
