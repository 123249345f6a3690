"""The import the rewrite adds goes where isort/ruff would put it."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bgmigrate.codemods.import_placement import imports_runtime, place_runtime_import


def placed(source: str) -> str:
    module = cst.parse_module(textwrap.dedent(source))
    return place_runtime_import(module, first_party="app").code


@pytest.mark.parametrize(
    ("before", "after"),
    [
        pytest.param(
            """\
            import time

            from fastapi import FastAPI
            from pydantic import BaseModel

            from app import store
            from bgmigrate import Tasks
            """,
            """\
            import time

            from bgmigrate import Tasks
            from fastapi import FastAPI
            from pydantic import BaseModel

            from app import store
            """,
            id="first-in-the-third-party-group",
        ),
        pytest.param(
            """\
            import requests
            from anyio import sleep
            from bgmigrate import task
            """,
            """\
            import requests
            from anyio import sleep
            from bgmigrate import task
            """,
            id="after-plain-imports-and-earlier-names",
        ),
        pytest.param(
            '''\
            """Docs."""
            import hashlib
            import time
            from bgmigrate import task

            X = 1
            ''',
            '''\
            """Docs."""
            import hashlib
            import time

            from bgmigrate import task

            X = 1
            ''',
            id="own-group-after-the-standard-library",
        ),
        pytest.param(
            """\
            from .jobs import send
            from bgmigrate import Tasks
            """,
            """\
            from bgmigrate import Tasks

            from .jobs import send
            """,
            id="before-relative-imports",
        ),
    ],
)
def test_the_runtime_import_is_moved_into_place(before: str, after: str) -> None:
    assert placed(before) == textwrap.dedent(after)


def test_a_module_with_two_runtime_imports_is_left_alone() -> None:
    source = "from bgmigrate import Tasks\nimport bgmigrate\nimport os\n"
    assert placed(source) == source


def test_an_existing_runtime_import_is_recognised() -> None:
    assert imports_runtime(cst.parse_module("import os\nfrom bgmigrate import task\n"))
    assert not imports_runtime(cst.parse_module("import os\n"))
