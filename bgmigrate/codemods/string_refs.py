"""Dotted names that a project's tests give as strings: ``mock.patch("app.api.BackgroundTasks")``.

The rewrite removes a ``BackgroundTasks`` import that the module no longer uses; a test that
patches that module attribute by name would then fail with ``AttributeError``. Such names are
found by reading the project's test files (which ``rewrite`` is often not given), not by
analysing them.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Iterable, Iterator
from pathlib import Path

from bgmigrate.codemods.pyproject import DEFAULT_EXCLUDES, DEFAULT_MAX_FILE_SIZE

_TEST_FILES = ("test_*.py", "*_test.py", "tests.py", "conftest.py")


def is_test_file(path: Path) -> bool:
    """A pytest or unittest module (``test_*.py``, ``conftest.py``...) or one under ``tests/``."""
    return any(fnmatch.fnmatch(path.name, pattern) for pattern in _TEST_FILES) or any(
        part in ("test", "tests") for part in path.parts[:-1]
    )


def _test_files(root: Path) -> Iterator[Path]:
    """Python test files under ``root``, outside the directories a scan always skips."""
    for path in root.rglob("*.py"):
        parts = path.relative_to(root).parts
        if any(fnmatch.fnmatch(p, pattern) for p in parts[:-1] for pattern in DEFAULT_EXCLUDES):
            continue
        if any(fnmatch.fnmatch(path.name, pattern) for pattern in _TEST_FILES):
            yield path


def names_in_tests(root: Path, attributes: Iterable[str]) -> frozenset[str]:
    """Every quoted dotted name ``x.y.<attribute>`` in the test files under ``root``."""
    wanted = sorted(set(attributes))
    if not wanted:
        return frozenset()
    alternatives = "|".join(re.escape(a) for a in wanted)
    pattern = re.compile(rf"""["']((?:\w+\.)+(?:{alternatives}))["']""")
    found: set[str] = set()
    for path in _test_files(root):
        try:
            if path.stat().st_size > DEFAULT_MAX_FILE_SIZE:
                continue
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue  # an unreadable test file cannot name anything the rewrite must keep
        found.update(pattern.findall(text))
    return frozenset(found)
