"""The import the rewrite adds goes where isort/ruff would put it."""

from __future__ import annotations

import textwrap

import libcst as cst
import pytest

from bgmigrate.codemods.import_placement import imports_from_runtime, place_runtime_import


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
    assert imports_from_runtime(cst.parse_module("import os\nfrom bgmigrate import task\n"))
    assert not imports_from_runtime(cst.parse_module("import os\nimport bgmigrate\n"))
    assert not imports_from_runtime(cst.parse_module("import os\n"))


@pytest.mark.parametrize(
    ("before", "after", "placed_after"),
    [
        pytest.param(
            "import bgmigrate\nfrom fastapi import FastAPI\n\nfrom app import db\n",
            "import bgmigrate\nfrom fastapi import FastAPI\n\nfrom app import db\n"
            "from bgmigrate import Tasks\n",
            "import bgmigrate\nfrom bgmigrate import Tasks\nfrom fastapi import FastAPI\n\n"
            "from app import db\n",
            id="from-import-next-to-a-module-import",
        ),
        pytest.param(
            "import httpx\nfrom bgmigrate import lifespan\nfrom fastapi import FastAPI\n",
            "import httpx\nfrom bgmigrate import lifespan\nfrom fastapi import FastAPI\n"
            "import bgmigrate\n",
            "import bgmigrate\nimport httpx\nfrom bgmigrate import lifespan\n"
            "from fastapi import FastAPI\n",
            id="module-import-before-the-from-imports",
        ),
        pytest.param(
            "from fastapi import FastAPI\n\nfrom app import db\nfrom bgmigrate import task\n",
            "from fastapi import FastAPI\n\nfrom app import db\n"
            "from bgmigrate import Tasks, task\n",
            "from fastapi import FastAPI\n\nfrom app import db\n"
            "from bgmigrate import Tasks, task\n",
            id="a-name-added-to-an-existing-import-keeps-its-place",
        ),
    ],
)
def test_only_an_added_runtime_import_moves(before: str, after: str, placed_after: str) -> None:
    module = cst.parse_module(after)
    placed = place_runtime_import(module, "app", before=cst.parse_module(before))
    assert placed.code == placed_after
