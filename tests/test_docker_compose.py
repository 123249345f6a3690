"""docker-compose.yml and the Dockerfile, checked without a Docker engine.

There is no engine here to run ``docker compose config``; these tests check what it would
(structure, references, interpolation) and what the issue asks of the stack.
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.main import get_command

from bgmigrate.cli import app as cli_app
from bgmigrate.settings import Settings, load_settings

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
APP_IMAGE_SERVICES = ("app", "celery-worker", "arq-worker")
OUTBOX_SERVICES = ("outbox-app", "relay")
# Top-level and service keys of the Compose specification that this file may use.
TOP_LEVEL_KEYS = {"name", "services", "volumes", "networks", "configs", "secrets", "include"}
SERVICE_KEYS = {
    "image", "build", "command", "entrypoint", "environment", "env_file", "ports", "volumes",
    "depends_on", "healthcheck", "profiles", "restart", "stop_grace_period", "stop_signal",
    "user", "working_dir", "networks", "deploy", "labels", "expose",
}  # fmt: skip
INTERPOLATION = re.compile(r"\$\{(?P<name>[A-Z0-9_]+)(?::-(?P<default>[^}]*))?\}")


def resolve(value: str, env: dict[str, str] | None = None) -> str:
    """Compose's ``${NAME:-default}`` interpolation, with an empty shell environment."""
    return INTERPOLATION.sub(lambda m: (env or {}).get(m["name"], m["default"] or ""), value)


def service_env(service: str) -> dict[str, str]:
    environment = SERVICES[service].get("environment", {})
    assert isinstance(environment, dict), f"{service}: use the mapping form of environment"
    return {key: resolve(str(value)) for key, value in environment.items()}


def test_only_keys_of_the_compose_specification_are_used() -> None:
    top = {key for key in COMPOSE if not key.startswith("x-")}
    assert top <= TOP_LEVEL_KEYS
    for name, service in SERVICES.items():
        assert set(service) <= SERVICE_KEYS, f"{name}: {set(service) - SERVICE_KEYS}"
        assert "image" in service or "build" in service, name


def test_redis_persists_with_aof_and_has_a_healthcheck() -> None:
    redis = SERVICES["redis"]
    command = redis["command"]
    assert command[command.index("--appendonly") + 1] == "yes"
    assert redis["healthcheck"]["test"][1:] == ["redis-cli", "ping"]
    (volume,) = redis["volumes"]
    assert volume.split(":")[0] in COMPOSE["volumes"]
    assert volume.split(":")[1] == "/data"


def test_rabbitmq_starts_only_with_its_profile() -> None:
    assert SERVICES["rabbitmq"]["profiles"] == ["rabbitmq"]
    assert [name for name, s in SERVICES.items() if "profiles" in s] == ["rabbitmq"]


def test_app_and_workers_share_one_image_built_from_the_dockerfile() -> None:
    images = {SERVICES[name]["image"] for name in APP_IMAGE_SERVICES + OUTBOX_SERVICES}
    builds = {SERVICES[name]["build"] for name in APP_IMAGE_SERVICES + OUTBOX_SERVICES}
    assert len(images) == 1
    assert builds == {"."}
    assert (ROOT / "Dockerfile").is_file()


@pytest.mark.parametrize("service", APP_IMAGE_SERVICES)
def test_services_wait_for_a_healthy_redis(service: str) -> None:
    assert SERVICES[service]["depends_on"] == {"redis": {"condition": "service_healthy"}}
    assert "healthcheck" in SERVICES["redis"]


def test_postgres_persists_in_a_volume_and_has_a_healthcheck() -> None:
    postgres = SERVICES["postgres"]
    assert postgres["healthcheck"]["test"][1] == "pg_isready"
    (volume,) = postgres["volumes"]
    assert volume.split(":")[0] in COMPOSE["volumes"]
    assert volume.split(":")[1] == "/var/lib/postgresql/data"


def test_the_outbox_services_wait_for_a_healthy_postgres_and_the_relay_for_redis() -> None:
    healthy = {"condition": "service_healthy"}
    assert SERVICES["outbox-app"]["depends_on"] == {"postgres": healthy}
    assert SERVICES["relay"]["depends_on"] == {"postgres": healthy, "redis": healthy}


def test_the_outbox_url_names_the_postgres_service_and_its_credentials() -> None:
    settings = load_settings(outbox_url=service_env("relay")["BGMIGRATE_OUTBOX_URL"])
    postgres = SERVICES["postgres"]["environment"]
    user, password, database = (
        postgres[name] for name in ("POSTGRES_USER", "POSTGRES_PASSWORD", "POSTGRES_DB")
    )
    assert settings.outbox_url == f"postgresql+psycopg://{user}:{password}@postgres:5432/{database}"


def test_the_relay_creates_the_table_then_relays_with_real_commands() -> None:
    shell, flag, script = SERVICES["relay"]["command"]
    assert (shell, flag) == ("sh", "-c")
    commands = [shlex.split(part.strip()) for part in script.split("&&")]
    assert commands == [["bgmigrate", "outbox", "init"], ["exec", "bgmigrate", "relay"]]
    root = get_command(cli_app)
    assert "relay" in root.commands  # type: ignore[attr-defined]
    assert "init" in root.commands["outbox"].commands  # type: ignore[attr-defined]


@pytest.mark.parametrize("service", APP_IMAGE_SERVICES + OUTBOX_SERVICES)
def test_services_are_configured_by_valid_bgmigrate_settings(service: str) -> None:
    env = service_env(service)
    assert env, f"{service} has no environment"
    assert all(name.startswith("BGMIGRATE_") for name in env)
    fields = {name.removeprefix("BGMIGRATE_").lower() for name in env}
    assert fields <= set(Settings.model_fields), fields - set(Settings.model_fields)
    settings = load_settings(
        **{name.removeprefix("BGMIGRATE_").lower(): v for name, v in env.items()}
    )
    assert settings.broker_url.startswith("redis://redis:")


def test_the_workers_run_the_backend_they_are_named_after() -> None:
    assert service_env("arq-worker")["BGMIGRATE_BACKEND"] == "arq"
    assert service_env("celery-worker")["BGMIGRATE_BACKEND"] == "celery"
    for service, backend in (("celery-worker", "celery"), ("arq-worker", "arq")):
        command = SERVICES[service]["command"]
        assert command[:2] == ["bgmigrate", "worker"]
        assert command[command.index("--backend") + 1] == backend


def test_worker_commands_use_only_options_of_bgmigrate_worker() -> None:
    worker = get_command(cli_app).commands["worker"]  # type: ignore[attr-defined]
    known = {opt for param in worker.params for opt in param.opts}
    for service in ("celery-worker", "arq-worker"):
        options = {arg for arg in SERVICES[service]["command"][2:] if arg.startswith("--")}
        assert options <= known, f"{service}: {options - known}"


@pytest.mark.parametrize("service", ["app", "outbox-app"])
def test_the_app_command_points_at_a_real_asgi_app(service: str) -> None:
    command = SERVICES[service]["command"]
    assert command[0] == "uvicorn"
    module, _, attribute = command[1].partition(":")
    assert (ROOT / Path(*module.split("."))).with_suffix(".py").is_file()
    source = (ROOT / Path(*module.split("."))).with_suffix(".py").read_text()
    assert re.search(rf"^{attribute} = FastAPI\(", source, re.M)


def test_the_task_modules_exist_in_the_image() -> None:
    module = service_env("app")["BGMIGRATE_TASK_MODULES"]
    assert (ROOT / Path(*module.split("."))).with_suffix(".py").is_file()
    dockerfile = (ROOT / "Dockerfile").read_text()
    assert "COPY examples ./examples" in dockerfile
    assert "COPY bgmigrate ./bgmigrate" in dockerfile


def test_the_dockerfile_installs_both_backends_and_runs_unprivileged() -> None:
    lines = (ROOT / "Dockerfile").read_text().splitlines()
    installs = [shlex.split(line) for line in lines if line.startswith("RUN pip install")]
    assert any(".[celery,arq,outbox]" in words for words in installs)
    assert any(line.startswith("USER ") and "root" not in line for line in lines)
