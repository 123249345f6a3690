"""``bgmigrate doctor`` against real Redis servers: green when ready, red with the fix when not."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from bgmigrate.cli import app
from bgmigrate.testing.conformance import TASK_MODULE
from bgmigrate.testing.redis_servers import RedisServerFactory, free_port

runner = CliRunner()
PASSWORD = "doctor-s3cret-pw"
TASK_SOURCE = "from bgmigrate import task\n@task\ndef {name}(n: int) -> None: ...\n"


def test_a_ready_celery_configuration_is_all_green(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_BACKEND", "celery")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", redis_url)
    monkeypatch.setenv("BGMIGRATE_RESULT_URL", redis_url)
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    result = runner.invoke(app, ["doctor", "--app", "bgmigrate.testing.conformance_app"])
    assert result.exit_code == 0, result.output
    assert "✗" not in result.output
    assert f"broker reachable at {redis_url}" in result.output
    assert f"result store reachable at {redis_url}" in result.output
    assert "bgmigrate.testing.conformance_tasks.record" in result.output
    assert "all checks passed" in result.output


def test_an_unreachable_broker_is_red_with_the_fix_and_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = f"redis://user:{PASSWORD}@127.0.0.1:{free_port()}/0"
    monkeypatch.setenv("BGMIGRATE_BACKEND", "arq")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", url)
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "✗ broker reachable at redis://user:***@127.0.0.1" in result.output
    assert "fix: start Redis" in result.output
    assert PASSWORD not in result.output


def test_an_unreachable_amqp_broker_is_red_and_names_rabbitmq(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_BACKEND", "celery")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", f"amqp://guest:{PASSWORD}@127.0.0.1:{free_port()}//")
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "✗ broker reachable at amqp://guest:***@127.0.0.1" in result.output
    assert "fix: start RabbitMQ" in result.output
    assert PASSWORD not in result.output


@pytest.mark.parametrize(("given", "outcome"), [(PASSWORD, "✓"), ("wrong-" + PASSWORD, "✗")])
def test_a_password_protected_broker_never_shows_its_password(
    given: str,
    outcome: str,
    redis_server_factory: RedisServerFactory,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server = redis_server_factory(password=PASSWORD)
    monkeypatch.setenv("BGMIGRATE_BACKEND", "arq")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", server.url.replace(PASSWORD, given))
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    result = runner.invoke(app, ["doctor"])
    assert f"{outcome} broker reachable at redis://:***@127.0.0.1:{server.port}/0" in result.output
    assert PASSWORD not in result.output


def test_invalid_settings_are_red_and_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_BACKEND", "rabbit")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "✗ settings valid" in result.output
    assert "BGMIGRATE_BACKEND: unknown backend 'rabbit'" in result.output


def test_a_queue_backend_without_task_modules_is_red(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_BACKEND", "arq")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", f"redis://127.0.0.1:{free_port()}/0")
    result = runner.invoke(app, ["doctor"])
    assert "✗ task modules" in result.output
    assert "BGMIGRATE_TASK_MODULES=app.tasks" in result.output


def test_a_task_module_that_fails_to_import_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    Path("broken_tasks.py").write_text("import no_such_dependency\n")
    monkeypatch.setenv("PYTHONPATH", str(Path.cwd()))
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "broken_tasks")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "✗ task module broken_tasks imports" in result.output
    assert "No module named 'no_such_dependency'" in result.output


def test_a_worker_lifespan_whose_module_fails_to_import_is_named(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path("broken_app.py").write_text("import no_such_framework\n")
    monkeypatch.setenv("PYTHONPATH", str(Path.cwd()))
    monkeypatch.setenv("BGMIGRATE_WORKER_LIFESPAN", "broken_app:app")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "✗ worker lifespan module broken_app imports" in result.output
    assert "No module named 'no_such_framework'" in result.output


def test_checks_that_need_a_failed_import_say_they_were_skipped_not_green(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("broken_jobs.py").write_text("import no_such_dependency\n")
    Path("jobs_app.py").write_text(TASK_SOURCE.format(name="bill"))
    monkeypatch.setenv("PYTHONPATH", str(Path.cwd()))
    monkeypatch.setenv("BGMIGRATE_BACKEND", "arq")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", redis_url)
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "broken_jobs")
    result = runner.invoke(app, ["doctor", "--app", "jobs_app"])
    assert result.exit_code == 1
    assert "✓ tasks workers will run" not in result.output
    assert "✓ every queued task" not in result.output
    needs = "needs what failed above: task module broken_jobs imports"
    assert f"- tasks workers will run (skipped) — {needs}" in result.output
    assert f"- every queued task is known to the workers (skipped) — {needs}" in result.output


def test_task_modules_are_imported_as_bgmigrate_worker_does_from_the_cwd(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    Path("cwd_tasks.py").write_text(TASK_SOURCE.format(name="job"))
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "cwd_tasks,missing_tasks")
    result = runner.invoke(app, ["doctor"])
    assert "✓ task module cwd_tasks imports" in result.output
    assert "✗ task module missing_tasks imports" in result.output
    assert "or set PYTHONPATH" in result.output


def test_an_app_task_routed_to_a_queue_but_unknown_to_workers_is_red(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("shop_tasks.py").write_text(TASK_SOURCE.format(name="ship"))
    Path("shop_app.py").write_text("import shop_tasks\n" + TASK_SOURCE.format(name="bill"))
    monkeypatch.setenv("BGMIGRATE_BACKEND", "arq")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", redis_url)
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "shop_tasks")
    monkeypatch.setenv("PYTHONPATH", str(Path.cwd()))
    result = runner.invoke(app, ["doctor", "--app", "shop_app:app"])
    assert result.exit_code == 1
    assert "✓ tasks workers will run — shop_tasks.ship" in result.output
    assert "unknown to workers: shop_app.bill" in result.output


def test_tasks_routed_in_process_need_no_worker(
    redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Path("mail_tasks.py").write_text(TASK_SOURCE.format(name="send"))
    Path("mail_app.py").write_text("import mail_tasks\n" + TASK_SOURCE.format(name="ping"))
    monkeypatch.setenv("BGMIGRATE_BACKEND", "arq")
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", redis_url)
    monkeypatch.setenv("BGMIGRATE_ROUTES", "mail_app.*=inprocess")
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "mail_tasks")
    monkeypatch.setenv("PYTHONPATH", str(Path.cwd()))
    result = runner.invoke(app, ["doctor", "--app", "mail_app"])
    assert result.exit_code == 0, result.output
    assert "1 of the app's 2 task(s) go to a queue" in result.output


def test_an_unknown_option_is_a_usage_error() -> None:
    assert runner.invoke(app, ["doctor", "--frobnicate"]).exit_code == 2


def test_a_reachable_blob_store_is_green_and_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_BLOB_STORE", f"file://{tmp_path}")
    result = runner.invoke(app, ["doctor"])
    assert f"✓ blob store reachable at file://{tmp_path}" in result.output
    assert list(tmp_path.iterdir()) == []


def test_an_unreachable_blob_store_is_red_with_the_fix_and_no_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_BLOB_STORE", f"redis://:{PASSWORD}@127.0.0.1:{free_port()}/0")
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == 1
    assert "✗ blob store reachable at redis://:***@127.0.0.1" in result.output
    assert "fix: start the store" in result.output
    assert PASSWORD not in result.output


@pytest.mark.parametrize(
    ("backend", "visibility", "code", "lines"),
    [
        # patient: timeout 10 s + 5 s hard-limit grace; apatient (async) 1 s more.
        (
            "celery",
            "12",
            1,
            [
                "✗ tasks end within the Redis visibility timeout (12 s)",
                f"{TASK_MODULE}.apatient up to 16 s, {TASK_MODULE}.patient up to 15 s",
                "fix: set BGMIGRATE_VISIBILITY_TIMEOUT=16 (or more)",
            ],
        ),
        (
            "celery",
            "3600",
            0,
            ["✓ tasks end within the Redis visibility timeout (3600 s) — longest 16 s"],
        ),
        ("arq", "12", 0, ["- tasks end within the Redis visibility timeout (12 s) (skipped)"]),
    ],
)
def test_tasks_longer_than_the_visibility_timeout_are_red_with_the_value_to_set(
    backend: str,
    visibility: str,
    code: int,
    lines: list[str],
    redis_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BGMIGRATE_BACKEND", backend)
    monkeypatch.setenv("BGMIGRATE_BROKER_URL", redis_url)
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", TASK_MODULE)
    monkeypatch.setenv("BGMIGRATE_VISIBILITY_TIMEOUT", visibility)
    result = runner.invoke(app, ["doctor"])
    assert result.exit_code == code, result.output
    for line in lines:
        assert line in result.output
