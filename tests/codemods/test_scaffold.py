"""``rewrite --backend``: each before/after case, idempotence, ``--diff`` and ``--check``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from tests.codemods.golden import chdir, files, invoke
from tests.codemods.scaffold_golden import CASES, FIXTURES, checklist, rewrite, run_case


@pytest.fixture(params=CASES)
def case(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_the_project_is_set_up_as_the_after_tree(case: str, tmp_path: Path) -> None:
    text, after = run_case(case, tmp_path)
    assert after == files(FIXTURES / case / "after")
    assert text == (FIXTURES / case / "checklist.txt").read_text()


def test_a_second_run_changes_nothing(case: str, tmp_path: Path) -> None:
    _, after = run_case(case, tmp_path)
    code, out, _ = rewrite(tmp_path / case, case.partition("_")[0], "--diff")
    assert (code, out) == (0, "")
    assert files(tmp_path / case) == after


def test_diff_and_check_write_nothing(case: str, tmp_path: Path) -> None:
    project = tmp_path / case
    shutil.copytree(FIXTURES / case / "before", project)
    backend = case.partition("_")[0]
    code, out, _ = rewrite(project, backend, "--diff")
    assert code == 0
    touched = {p for p in files(FIXTURES / case / "after") if p not in files(project)}
    touched |= {
        p for p, data in files(FIXTURES / case / "after").items() if files(project).get(p) != data
    }
    assert all(f"b/{name}" in out for name in touched)
    assert rewrite(project, backend, "--check")[0] == 1
    assert files(project) == files(FIXTURES / case / "before")


def test_compose_files_stay_valid_yaml(case: str) -> None:
    for path in (FIXTURES / case / "after").glob("*compose*.y*ml"):
        services = yaml.safe_load(path.read_text())["services"]
        worker = next(s for s in services.values() if s.get("command") == "bgmigrate worker")
        assert "redis" in str(services)
        assert "BGMIGRATE_BROKER_URL" in str(worker["environment"])


def test_the_settings_table_is_what_the_runtime_reads(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bgmigrate.settings import load_settings

    _, _ = run_case(case, tmp_path)
    monkeypatch.chdir(tmp_path / case)
    monkeypatch.delenv("BGMIGRATE_BACKEND", raising=False)
    settings = load_settings()
    assert settings.backend == case.partition("_")[0]
    assert settings.task_modules


def test_the_checklist_says_what_is_left(tmp_path: Path) -> None:
    text, _ = run_case("arq_requirements_on_event", tmp_path)
    assert "[x] app/main.py: bgmigrate.startup and bgmigrate.shutdown registered" in text
    assert "[ ] set BGMIGRATE_BROKER_URL" in text
    assert checklist("x\nChecklist:\n  [x] a\n") == "Checklist:\n  [x] a\n"


@pytest.mark.parametrize(
    ("name", "data"),
    [("pyproject.toml", b"[project\nname = 1\n"), ("requirements.txt", b"fastapi\xff\n")],
)
def test_a_file_it_cannot_read_is_a_clear_error_and_nothing_is_written(
    tmp_path: Path, name: str, data: bytes
) -> None:
    case = "arq_requirements_on_event"
    project = tmp_path / case
    shutil.copytree(FIXTURES / case / "before", project)
    (project / name).write_bytes(data)
    before = files(project)
    code, _, err = rewrite(project, "arq")
    assert code == 2
    assert name in err
    assert files(project) == before


def test_a_package_without_a_pyproject_gets_its_settings_where_its_modules_import_from(
    tmp_path: Path,
) -> None:
    package = tmp_path / "docapp"
    shutil.copytree(Path(__file__).parents[2] / "examples" / "docapp", package)
    with chdir(tmp_path):
        code, _, _ = invoke("rewrite", "--backend", "arq", "--no-progress", "--no-cache", "docapp")
    assert code == 0
    assert not (package / "pyproject.toml").exists()
    settings = (tmp_path / "pyproject.toml").read_text()
    assert 'task-modules = ["docapp.processing"]' in settings


def test_a_namespace_package_gets_its_settings_and_task_modules_where_it_imports_from(
    tmp_path: Path,
) -> None:
    # api/ has no __init__.py; its code imports itself as `api.…` from the directory above
    (tmp_path / "api" / "mail").mkdir(parents=True)
    (tmp_path / "api" / "mail" / "__init__.py").write_text("")
    (tmp_path / "api" / "mail" / "sender.py").write_text(
        "import smtplib\n\n\ndef send_welcome(to: str) -> None:\n"
        "    with smtplib.SMTP('localhost') as smtp:\n"
        "        smtp.sendmail('app@example.com', [to], 'welcome')\n"
    )
    (tmp_path / "api" / "routes.py").write_text(
        "from fastapi import APIRouter, BackgroundTasks\n\n"
        "from api.mail.sender import send_welcome\n\nrouter = APIRouter()\n\n\n"
        "@router.post('/register')\n"
        "def register(email: str, background_tasks: BackgroundTasks) -> None:\n"
        "    background_tasks.add_task(send_welcome, email)\n"
    )
    with chdir(tmp_path):
        code, _, _ = invoke("rewrite", "--backend", "arq", "--no-progress", "--no-cache", "api")
    assert code == 0
    assert not (tmp_path / "api" / "pyproject.toml").exists()
    settings = (tmp_path / "pyproject.toml").read_text()
    assert 'task-modules = ["api.mail.sender"]' in settings
