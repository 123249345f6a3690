"""Which names a module binds at its top level (a rewrite must never shadow one)."""

from __future__ import annotations

import ast
import textwrap

from bgmigrate.codemods.names import Resolver

SOURCE = """
import os

if os.environ.get("USE_CELERY"):
    task = app.task
else:

    def task(func):
        return func

try:
    Tasks, (RequestBatch, *rest) = load()
except ImportError:
    RetryPolicy = None
finally:
    cleanup: int = 0

for counter in range(3):
    pass

with open(path) as handle:
    total += 1


def outer():
    inner = 1
"""


def test_names_bound_in_blocks_and_tuples_are_definitions() -> None:
    resolver = Resolver(ast.parse(textwrap.dedent(SOURCE)), "app.jobs", False)
    assert resolver.definitions == {
        "task",
        "Tasks",
        "RequestBatch",
        "rest",
        "RetryPolicy",
        "cleanup",
        "counter",
        "handle",
        "total",
        "outer",
    }
    assert resolver.qualify_dotted("task") == "app.jobs.task"
