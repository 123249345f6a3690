"""Settings come from BGMIGRATE_* variables and .env, and bad ones fail with one clear message."""

from __future__ import annotations

from pathlib import Path

import pytest

from bgmigrate.errors import ConfigError
from bgmigrate.settings import load_settings


def test_defaults_are_the_embedded_inprocess_backend() -> None:
    settings = load_settings()
    assert settings.backend == "inprocess"
    assert settings.strict is False
    assert settings.inprocess_budget == 30


def test_environment_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_BACKEND", "celery")
    monkeypatch.setenv("BGMIGRATE_STRICT", "true")
    monkeypatch.setenv("BGMIGRATE_TASK_MODULES", "app.tasks, app.more_tasks")
    settings = load_settings()
    assert (settings.backend, settings.strict) == ("celery", True)
    assert settings.task_modules == ["app.tasks", "app.more_tasks"]


def test_dotenv_file_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text("BGMIGRATE_BACKEND=arq\nBGMIGRATE_INPROCESS_WORKERS=3\n")
    settings = load_settings()
    assert (settings.backend, settings.inprocess_workers) == ("arq", 3)


def test_routes_accept_pattern_pairs_and_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_ROUTES", "app.tasks.heavy_*=celery, app.*=inprocess")
    assert load_settings().routes == {"app.tasks.heavy_*": "celery", "app.*": "inprocess"}
    monkeypatch.setenv("BGMIGRATE_ROUTES", '{"app.tasks.embed": "arq"}')
    assert load_settings().routes == {"app.tasks.embed": "arq"}


def test_first_matching_route_wins_and_default_is_the_backend() -> None:
    settings = load_settings(routes={"app.tasks.heavy_*": "celery", "app.*": "arq"})
    assert settings.route("app.tasks.heavy_embed") == "celery"
    assert settings.route("app.tasks.log") == "arq"
    assert settings.route("other.thing") == "inprocess"


def test_unknown_backend_lists_the_valid_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_BACKEND", "rq")
    with pytest.raises(ConfigError, match=r"unknown backend 'rq'.*inprocess, celery, arq"):
        load_settings()


def test_malformed_route_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_ROUTES", "app.*=celery,oops")
    with pytest.raises(ConfigError, match=r"BGMIGRATE_ROUTES: route 'oops' is not of the form"):
        load_settings()


def test_route_to_unknown_backend_lists_the_valid_choices() -> None:
    with pytest.raises(ConfigError, match=r"ROUTES\['app.\*'\]: unknown backend 'redis'.*arq"):
        load_settings(routes={"app.*": "redis"})


def test_bad_broker_url_is_rejected_without_its_password() -> None:
    with pytest.raises(ConfigError, match="unsupported scheme") as caught:
        load_settings(broker_url="http://user:hunter2@example:6379/0")
    assert "hunter2" not in str(caught.value)


def test_broker_url_is_not_in_the_settings_repr() -> None:
    settings = load_settings(broker_url="redis://:hunter2@127.0.0.1:6379/0")
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings)


def test_numeric_limits_are_checked() -> None:
    with pytest.raises(ConfigError, match="BGMIGRATE_INPROCESS_WORKERS"):
        load_settings(inprocess_workers=0)


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/3", "file:///srv/blobs", "s3://bucket", "s3://bucket/prefix"]
)
def test_a_blob_store_is_a_redis_directory_or_s3_url(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_BLOB_STORE", url)
    assert load_settings().blob_store == url


@pytest.mark.parametrize("url", ["file://relative/dir", "s3:///prefix", "http://host/blobs"])
def test_a_blob_store_url_that_names_no_store_fails_with_the_choices(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("BGMIGRATE_BLOB_STORE", url)
    with pytest.raises(ConfigError, match=r"BGMIGRATE_BLOB_STORE.*file:///absolute/shared/dir"):
        load_settings()


def test_pyproject_settings_table_is_read_below_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.bgmigrate.settings]\nbackend = "arq"\ntask-modules = ["app.tasks"]\n'
    )
    (tmp_path / "app").mkdir()
    monkeypatch.chdir(tmp_path / "app")  # the nearest pyproject.toml at or above
    settings = load_settings()
    assert (settings.backend, settings.task_modules) == ("arq", ["app.tasks"])
    monkeypatch.setenv("BGMIGRATE_BACKEND", "celery")
    assert load_settings().backend == "celery"


def test_an_unknown_pyproject_setting_names_the_valid_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.bgmigrate.settings]\nbakend = "arq"\n')
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match=r"unknown key 'bakend'.*valid keys: .*task-modules"):
        load_settings()


def test_the_settings_table_is_not_a_scan_option(tmp_path: Path) -> None:
    from bgmigrate.codemods.pyproject import load_config

    path = tmp_path / "pyproject.toml"
    path.write_text(
        '[tool.bgmigrate]\nselect = ["BGM1"]\n\n[tool.bgmigrate.settings]\nbackend = "arq"\n'
    )
    assert load_config(path).select == ("BGM1",)


def test_worker_lifespan_names_module_and_attribute(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BGMIGRATE_WORKER_LIFESPAN", "app.main:app")
    assert load_settings().worker_lifespan == "app.main:app"
    monkeypatch.setenv("BGMIGRATE_WORKER_LIFESPAN", "app.main")
    with pytest.raises(ConfigError, match=r"BGMIGRATE_WORKER_LIFESPAN: 'app.main' is not"):
        load_settings()
