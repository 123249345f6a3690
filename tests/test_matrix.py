"""``make matrix`` covers the versions the project declares, and only those it tests."""

from __future__ import annotations

import importlib.util
import sys
import tomllib
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement

from bgmigrate.batch import SUPPORTED_FASTAPI

ROOT = Path(__file__).resolve().parent.parent


def _matrix() -> ModuleType:
    spec = importlib.util.spec_from_file_location("matrix", ROOT / "scripts/matrix.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["matrix"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


MATRIX = _matrix()
WORKER_SESSIONS = [s for s in MATRIX.SESSIONS if "tests/adapters/test_conformance.py" in s.tests]


def _declared(name: str) -> Requirement:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = [
        *project["dependencies"],
        *(r for extra in project["optional-dependencies"].values() for r in extra),
    ]
    return next(Requirement(r) for r in requirements if Requirement(r).name == name)


@pytest.mark.parametrize(
    "pin",
    [
        f"fastapi=={MATRIX.OLDEST_FASTAPI}",
        "fastapi",  # the newest release
        f"pydantic=={MATRIX.OLDEST_PYDANTIC}",
        f"pydantic-settings=={MATRIX.OLDEST_PYDANTIC_SETTINGS}",
        f"typer=={MATRIX.OLDEST_TYPER}",
        "celery[redis]==5.5.*",
        "celery[redis]==5.6.*",
        "arq==0.26.*",
        "arq==0.28.*",
    ],
)
@pytest.mark.parametrize("python", ["3.11", "3.13"])
def test_every_boundary_version_runs_the_worker_tests_on_each_python(pin: str, python: str) -> None:
    assert any(pin in s.pins and s.python.startswith(python) for s in WORKER_SESSIONS)


def test_the_declared_lower_bounds_are_the_oldest_releases_the_matrix_runs() -> None:
    assert SUPPORTED_FASTAPI.startswith(f">={MATRIX.OLDEST_FASTAPI.removesuffix('.0')},")
    assert _declared("fastapi").specifier == SUPPORTED_FASTAPI
    assert _declared("celery").specifier.contains("5.5.0")
    assert not _declared("celery").specifier.contains("5.4.99")
    assert _declared("pydantic").specifier == f">={MATRIX.OLDEST_PYDANTIC.rsplit('.', 1)[0]}"
    assert _declared("arq").specifier.contains("0.26.0")
    assert not _declared("arq").specifier.contains("0.25.99")
    assert _declared("pydantic-settings").specifier == f">={MATRIX.OLDEST_PYDANTIC_SETTINGS[:-2]}"
    assert _declared("typer").specifier == f">={MATRIX.OLDEST_TYPER[:-2]}"
