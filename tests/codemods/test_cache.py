"""The per-file cache: exact JSON round trip, and anything odd in it is ignored."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgmigrate.codemods import cache
from bgmigrate.codemods.facts import Hints
from bgmigrate.codemods.finder import analyze
from tests.codemods.golden import CASES, FIXTURES


@pytest.mark.parametrize("case", CASES)
def test_facts_round_trip_exactly(case: str, tmp_path: Path) -> None:
    hints = Hints(
        bg_names=frozenset({"app.deps.BT"}),
        bg_params=frozenset({("app.notify", "tasks")}),
        bg_attrs=frozenset({"app.Ctx.tasks"}),
    )
    entries = {}
    for path in sorted((FIXTURES / case / "before").rglob("*.py")):
        data = path.read_bytes()
        facts = analyze(data, path.name, path.stem, hints)
        entries[cache.key(data, path.name, path.stem)] = cache.Entry(facts, hints)
    stored = tmp_path / "facts.json"
    cache.save(stored, entries)
    assert cache.load(stored) == entries


@pytest.mark.parametrize("content", ["", "not json", "[]", '{"entries": {"k": {"path": 1}}}'])
def test_unusable_cache_files_are_ignored(content: str, tmp_path: Path) -> None:
    stored = tmp_path / "facts.json"
    stored.write_text(content)
    assert cache.load(stored) == {}
    assert cache.load(tmp_path / "missing.json") == {}


def test_saving_drops_files_of_other_versions(tmp_path: Path) -> None:
    old = tmp_path / "facts-0.0.1-abc.json"
    old.write_text("{}")
    current = tmp_path / "facts-new.json"
    cache.save(current, {})
    assert [p.name for p in tmp_path.glob("facts-*.json")] == [current.name]
    assert cache.load(current) == {}
