"""Redis and a worker in compose files the scaffold cannot read as it expects."""

from __future__ import annotations

from pathlib import Path

from bgmigrate.codemods.scaffold.compose import add_services, find_compose
from bgmigrate.codemods.scaffold.model import Files


def test_a_compose_file_without_a_web_service_is_left_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text("services:\n  db:\n    image: postgres\n")
    outcome = add_services(Files(), tmp_path)
    assert outcome.edits == []
    assert "no web service found" in outcome.left[0]


def test_a_compose_file_without_services_is_left_with_a_reason(tmp_path: Path) -> None:
    (tmp_path / "docker-compose.yml").write_text("version: '3'\n")
    outcome = add_services(Files(), tmp_path)
    assert outcome.edits == []
    assert "no services" in outcome.left[0]


def test_without_compose_file_or_dockerfile_nothing_is_written(tmp_path: Path) -> None:
    outcome = add_services(Files(), tmp_path)
    assert outcome.edits == []
    assert "run Redis" in outcome.left[0]


def test_the_compose_file_of_the_repository_top_is_found_from_a_subproject(
    tmp_path: Path,
) -> None:
    (tmp_path / ".git").mkdir()
    (tmp_path / "docker-compose.yml").write_text("services: {}\n")
    (tmp_path / "project").mkdir()
    assert find_compose(tmp_path / "project") == tmp_path / "docker-compose.yml"
    assert find_compose(tmp_path.parent / "elsewhere") is None


def test_a_service_without_environment_gets_one(tmp_path: Path) -> None:
    (tmp_path / "compose.yaml").write_text(
        "services:\n  web:\n    build: .\n    command: uvicorn app:app\n"
    )
    outcome = add_services(Files(), tmp_path)
    text = outcome.edits[0].after.decode()
    assert "    environment:\n      - BGMIGRATE_BROKER_URL=redis://redis:6379/0\n" in text
    assert "  worker:\n    command: bgmigrate worker\n    build: .\n" in text
