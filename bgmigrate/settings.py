"""Settings read from ``BGMIGRATE_*`` environment variables, ``.env`` and ``pyproject.toml``.

Environment variables win over ``.env``, which wins over ``[tool.bgmigrate.settings]`` in the
nearest ``pyproject.toml`` of the working directory (keys spelled ``task-modules``); that table
is where ``bgmigrate rewrite --backend`` writes the backend and the task modules.

Invalid settings fail at start-up with one :class:`~bgmigrate.errors.ConfigError` that names
the setting and lists the valid values.
"""

from __future__ import annotations

import enum
import fnmatch
import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    InitSettingsSource,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from bgmigrate.codemods.pyproject import SETTINGS_TABLE, find_pyproject, read_tool_table
from bgmigrate.errors import ConfigError
from bgmigrate.urls import (
    check_blob_url,
    check_postgres_url,
    check_url,
    is_redis_url,
    redact_url,
)

#: Built-in backends by alias, as import paths so that choosing one imports only its adapter.
BACKEND_ALIASES: dict[str, str] = {
    "inprocess": "bgmigrate.adapters.inprocess:InProcessBackend",
    "celery": "bgmigrate.adapters.celery:CeleryBackend",
    "arq": "bgmigrate.adapters.arq:ArqBackend",
}


class WorkerPool(enum.StrEnum):
    """How a worker runs tasks side by side (``bgmigrate worker --pool``)."""

    prefork = "prefork"
    """Celery: one child process per slot (the default; time limits and recycling need it)."""
    threads = "threads"
    """One process, a thread per slot (ARQ's own model: async jobs on its loop, sync in threads)."""
    solo = "solo"
    """One process running one task at a time."""


def check_backend(value: str, *, setting: str = "BGMIGRATE_BACKEND") -> str:
    """Return ``value`` if it names a backend (an alias or ``module:Class``), else raise."""
    if value in BACKEND_ALIASES or ":" in value:
        return value
    choices = ", ".join(BACKEND_ALIASES)
    raise ConfigError(
        f"{setting}: unknown backend {value!r}; valid choices: {choices}, "
        "or an import path 'module:Class' of a TaskBackend subclass"
    )


_TABLE_NAME = re.compile(r"^(?:[a-z_][a-z0-9_]{0,62}\.)?[a-z_][a-z0-9_]{0,62}$")


def check_table_name(name: str) -> str:
    """Return ``name`` if it is a plain (optionally schema-qualified) lower-case identifier."""
    if not _TABLE_NAME.match(name):
        raise ConfigError(
            f"BGMIGRATE_OUTBOX_TABLE: {name!r} is not a lower-case SQL identifier "
            "(letters, digits, '_', optionally 'schema.table'), e.g. bgmigrate_outbox"
        )
    return name


def _split_list(value: Any) -> Any:
    """Accept a comma-separated string or a JSON list for list settings."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [item.strip() for item in text.split(",") if item.strip()]
    return value


def _parse_routes(value: Any) -> Any:
    """Accept a JSON object or ``pattern=backend,pattern=backend`` for ``ROUTES``."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    if text.startswith("{"):
        return json.loads(text)
    routes: dict[str, str] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        pattern, sep, backend = item.partition("=")
        if not sep or not pattern.strip() or not backend.strip():
            raise ValueError(f"route {item!r} is not of the form 'pattern=backend'")
        routes[pattern.strip()] = backend.strip()
    return routes


class Settings(BaseSettings):
    """bgmigrate's configuration; every field is read from ``BGMIGRATE_<FIELD>``."""

    model_config = SettingsConfigDict(
        env_prefix="BGMIGRATE_",
        env_file=".env",
        extra="ignore",
        frozen=True,
        use_attribute_docstrings=True,
    )

    backend: str = "inprocess"
    """Default backend: ``inprocess``, ``celery``, ``arq`` or ``module:Class``."""
    broker_url: str = Field("redis://127.0.0.1:6379/0", repr=False)
    """Broker for Celery (Redis or AMQP) and ARQ (Redis). Its password is never printed."""
    result_url: str | None = Field(None, repr=False)
    """Where Celery keeps results (Redis); unset means no results for Celery."""
    task_modules: Annotated[list[str], NoDecode] = []
    """Modules that workers import to register tasks (comma-separated or a JSON list)."""
    worker_lifespan: str | None = None
    """``module:attribute`` of your FastAPI app, whose lifespan (and ``on_event`` start-up and
    shutdown handlers) each worker process runs around its work, or of a no-argument async
    context manager factory; unset: a worker runs none."""
    routes: Annotated[dict[str, str], NoDecode] = {}
    """Task-name pattern -> backend, first match wins (``pattern=backend,...`` or JSON)."""
    strict: bool = False
    """Turn readiness warnings and unregistered callables into errors."""
    inprocess_budget: float = Field(30.0, gt=0)
    """Seconds an in-process task may take before it is reported as too slow."""
    inprocess_workers: int = Field(8, ge=1)
    """How many sync ``@task`` functions the in-process backend runs at once (its own limit, apart
    from the threads sync endpoints use)."""
    drain_timeout: float = Field(10.0, ge=0)
    """Seconds to finish running tasks on shutdown: the in-process backend's pending tasks (then
    dropped, each logged), the after-commit spool's jobs (then logged as lost) and an arq
    worker's jobs on SIGTERM (then cancelled and re-queued)."""
    result_ttl: int = Field(3600, ge=1)
    """Seconds results (and idempotency keys) are kept."""
    max_payload_bytes: int = Field(1024 * 1024, ge=1)
    """Largest encoded arguments (UTF-8 JSON bytes) accepted at enqueue time and by workers."""
    stats_path: Path | None = None
    """File for the in-process backend's task statistics (``scan --evidence``); ``{pid}`` in it
    becomes the process id, so that each web process writes its own."""
    stats_interval: float = Field(60.0, gt=0)
    """Seconds between two writes of the statistics file (it is also written at shutdown)."""
    stats_warn_interval: float = Field(300.0, ge=0)
    """Seconds between two warnings about the same slow or failing in-process task."""
    prometheus: bool = False
    """Export in-process task metrics to prometheus-client (the ``prometheus`` extra)."""
    default_queue: str | None = None
    """Queue for tasks that name none (unset: Celery's ``celery``, ARQ's ``arq:queue``)."""
    visibility_timeout: int = Field(3600, ge=1)
    """Celery on Redis: seconds before a task held unacknowledged (by a dead worker, or running
    or delayed that long) is re-delivered; it must exceed your longest task and delay."""
    in_progress_timeout: float | None = Field(None, gt=0)
    """ARQ: seconds before the job of a dead worker runs again; a live worker renews the mark of
    each running job every third of it (unset: arq's own, the longest task timeout + 10 s)."""
    worker_concurrency: int | None = Field(None, ge=1)
    """Tasks a worker runs at once (default: Celery's CPU count, ARQ's 10)."""
    worker_pool: WorkerPool | None = None
    """How a worker runs tasks side by side: ``prefork``, ``threads`` or ``solo`` (default:
    Celery's ``prefork``; ARQ runs ``threads`` and cannot honour ``prefork``)."""
    worker_max_tasks_per_child: int | None = Field(None, ge=1)
    """Celery prefork: a child process is replaced after this many tasks, returning the memory a
    model or a leak held (default: never). ARQ cannot honour it."""
    failed_jobs_url: str | None = Field(None, repr=False)
    """Redis that keeps failed jobs (``bgmigrate jobs failed``); unset: the broker when it is
    Redis, else Celery's Redis result store. The in-process backend keeps them only when set."""
    failed_jobs_max: int = Field(1000, ge=0)
    """Failed jobs kept, the oldest dropped first; 0 keeps none."""
    failed_jobs_ttl: int = Field(7 * 24 * 3600, ge=1)
    """Seconds a failed job is kept."""
    after_commit_retry_timeout: float = Field(300.0, ge=0)
    """``tasks.after_commit``: seconds a committed task is retried while its broker refuses it,
    before it is logged as lost."""
    after_commit_spool_max: int = Field(10_000, ge=0)
    """``tasks.after_commit``: committed tasks held in memory at most while brokers refuse
    them; a task over it is logged as lost at once."""
    outbox_url: str | None = Field(None, repr=False)
    """PostgreSQL database of the outbox table, for ``bgmigrate relay`` and ``bgmigrate outbox``
    (``postgresql://...``; a SQLAlchemy ``postgresql+driver://`` URL is accepted)."""
    outbox_table: str = "bgmigrate_outbox"
    """Name of the outbox table (``schema.table`` allowed)."""
    outbox_batch_size: int = Field(500, ge=1)
    """Rows the relay moves to the broker per transaction."""
    outbox_poll_interval: float = Field(0.05, gt=0)
    """Seconds the relay waits before looking again when the outbox was empty."""

    trace_parent: Literal["link", "child"] = "link"
    """OpenTelemetry (the ``otel`` extra): a job's run span is linked to its enqueue span, in a
    trace of its own (``link``, as the messaging conventions recommend), or is its child, in the
    request's trace (``child``)."""
    blob_store: str | None = Field(None, repr=False)
    """Where files that travel with their job are kept: ``redis://...``, ``file:///shared/dir``
    or ``s3://bucket/prefix`` (the ``s3`` extra); unset: ``UploadFile`` and ``LocalFile``
    arguments cannot go to a queue."""
    blob_ttl: int = Field(7 * 24 * 3600, ge=1)
    """Seconds a blob is kept when its job does not succeed (a job that succeeds deletes its
    blobs); it must exceed your longest delay plus retries."""
    blob_inline_bytes: int = Field(64 * 1024, ge=0)
    """A ``bytes`` argument larger than this goes to the blob store (when one is set)."""
    blob_redis_max_bytes: int = Field(8 * 1024 * 1024, ge=1)
    """Largest blob the Redis blob store takes; a larger file is refused at ``add_task``."""

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Environment, then ``.env``, then ``[tool.bgmigrate.settings]`` of ``pyproject.toml``."""
        pyproject = InitSettingsSource(settings_cls, pyproject_settings(Path.cwd()))
        return init_settings, env_settings, dotenv_settings, pyproject, file_secret_settings

    @field_validator("backend")
    @classmethod
    def _backend_known(cls, value: str) -> str:
        return check_backend(value)

    @field_validator("broker_url")
    @classmethod
    def _broker_url_valid(cls, value: str) -> str:
        return check_url(value, setting="BGMIGRATE_BROKER_URL")

    @field_validator("result_url")
    @classmethod
    def _result_url_valid(cls, value: str | None) -> str | None:
        return None if value is None else check_url(value, setting="BGMIGRATE_RESULT_URL")

    @field_validator("failed_jobs_url")
    @classmethod
    def _failed_jobs_url_valid(cls, value: str | None) -> str | None:
        if value is None:
            return None
        check_url(value, setting="BGMIGRATE_FAILED_JOBS_URL")
        if not is_redis_url(value):
            raise ConfigError(
                f"BGMIGRATE_FAILED_JOBS_URL: {redact_url(value)!r} is not a Redis URL"
            )
        return value

    @field_validator("outbox_url")
    @classmethod
    def _outbox_url_valid(cls, value: str | None) -> str | None:
        return None if value is None else check_postgres_url(value, setting="BGMIGRATE_OUTBOX_URL")

    @field_validator("outbox_table")
    @classmethod
    def _outbox_table_valid(cls, value: str) -> str:
        return check_table_name(value)

    @field_validator("blob_store")
    @classmethod
    def _blob_store_valid(cls, value: str | None) -> str | None:
        return None if value is None else check_blob_url(value)

    @field_validator("worker_lifespan")
    @classmethod
    def _worker_lifespan_valid(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[\w.]+:[\w.]+", value):
            raise ConfigError(
                f"BGMIGRATE_WORKER_LIFESPAN: {value!r} is not 'module:attribute' "
                "(e.g. app.main:app)"
            )
        return value

    @field_validator("task_modules", mode="before")
    @classmethod
    def _task_modules_list(cls, value: Any) -> Any:
        return _split_list(value)

    @field_validator("routes", mode="before")
    @classmethod
    def _routes_mapping(cls, value: Any) -> Any:
        return _parse_routes(value)

    @field_validator("routes")
    @classmethod
    def _routes_valid(cls, value: dict[str, str]) -> dict[str, str]:
        for pattern, backend in value.items():
            check_backend(backend, setting=f"BGMIGRATE_ROUTES[{pattern!r}]")
        return value

    def route(self, task_name: str) -> str:
        """The backend for ``task_name``: the first matching route, else ``backend``."""
        for pattern, backend in self.routes.items():
            if fnmatch.fnmatchcase(task_name, pattern):
                return backend
        return self.backend


def pyproject_settings(start: Path) -> dict[str, Any]:
    """``[tool.bgmigrate.settings]`` of the nearest ``pyproject.toml`` at or above ``start``,
    by field name; an unknown key is a ``ConfigError`` that lists the valid ones."""
    found = find_pyproject(start)
    if found is None:
        return {}
    table = read_tool_table(found).get(SETTINGS_TABLE, {})
    if not isinstance(table, dict):
        raise ConfigError(f"{found}: [tool.bgmigrate.{SETTINGS_TABLE}] must be a table")
    values = {key.replace("-", "_"): value for key, value in table.items()}
    unknown = sorted(set(values) - set(Settings.model_fields))
    if unknown:
        valid = ", ".join(sorted(name.replace("_", "-") for name in Settings.model_fields))
        raise ConfigError(
            f"{found}: unknown key {unknown[0].replace('_', '-')!r} in "
            f"[tool.bgmigrate.{SETTINGS_TABLE}]; valid keys: {valid}"
        )
    return values


def settings_reference() -> str:
    """The Markdown table of every setting, as published in ``docs/configuration.md``."""
    rows = ["| Variable | Default | Meaning |", "|---|---|---|"]
    for name, info in Settings.model_fields.items():
        default = "" if info.default in (None, [], {}) else f"`{json.dumps(info.default)}`"
        meaning = (info.description or "").replace("``", "`")
        rows.append(f"| `BGMIGRATE_{name.upper()}` | {default} | {meaning} |")
    return "\n".join(rows) + "\n"


def load_settings(**overrides: Any) -> Settings:
    """Read settings from the environment (and ``.env``), raising one clear ``ConfigError``."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from exc


def _describe(exc: ValidationError) -> str:
    lines = []
    for error in exc.errors(include_url=False, include_input=False):
        cause = error.get("ctx", {}).get("error")
        message = str(cause) if cause is not None else error["msg"]
        field = ".".join(str(part) for part in error["loc"])
        if not message.startswith("BGMIGRATE_"):
            message = f"BGMIGRATE_{field.upper()}: {message}"
        lines.append(message)
    return "invalid bgmigrate settings:\n  " + "\n  ".join(lines)
