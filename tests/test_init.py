"""The public API is exactly what ``bgmigrate.__all__`` lists."""

from __future__ import annotations

import bgmigrate


def test_all_is_sorted() -> None:
    assert list(bgmigrate.__all__) == sorted(bgmigrate.__all__)


def test_all_names_exist() -> None:
    missing = [name for name in bgmigrate.__all__ if not hasattr(bgmigrate, name)]
    assert missing == []


def test_all_lists_every_public_attribute() -> None:
    public = {
        name
        for name, value in vars(bgmigrate).items()
        if not name.startswith("_") and getattr(value, "__module__", "").startswith("bgmigrate")
    }
    assert public - set(bgmigrate.__all__) == set()


def test_every_public_object_has_a_docstring() -> None:
    undocumented = [
        name
        for name in bgmigrate.__all__
        if not name.startswith("__") and not getattr(bgmigrate, name).__doc__
    ]
    assert undocumented == []
