"""Test support for bgmigrate and for third-party adapters.

- :mod:`bgmigrate.testing.pytest_plugin` — fixtures for real Redis and real worker processes.
- :mod:`bgmigrate.testing.redis_servers` — find the test Redis or start private servers.
- :mod:`bgmigrate.testing.workers` — start, await and stop worker subprocesses.
- :mod:`bgmigrate.testing.polling` — :func:`wait_until`, the one way tests wait.
- :mod:`bgmigrate.testing.conformance` — the behaviour every backend must show, with the tasks
  (:mod:`~bgmigrate.testing.conformance_tasks`) and the app
  (:mod:`~bgmigrate.testing.conformance_app`) it drives, and a module no worker may import
  (:mod:`~bgmigrate.testing.conformance_trap`).
"""
