"""The checks behind ``bgmigrate doctor``: is this configuration ready to run?

Each check yields :class:`Check` results (ok, failed with the fix, or skipped because it does
not apply or because a check it depends on failed). Nothing here prints; secrets in URLs
never reach a result (see :func:`scrub`).
"""

from __future__ import annotations

import enum
import importlib.metadata
import io
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from packaging.requirements import Requirement

from bgmigrate.adapters.redelivery import applies, redelivered, visibility_fix
from bgmigrate.backend import backend_class
from bgmigrate.blobs.stores import configured_store
from bgmigrate.errors import BlobError, ConfigError
from bgmigrate.settings import Settings, load_settings
from bgmigrate.task_probe import ProbeResult, probe
from bgmigrate.urls import redact_url

#: Extras whose pins matter at run time (``dev`` and ``all`` only repeat them).
RUNTIME_EXTRAS = ("celery", "arq", "codemod", "prometheus", "s3")
QUEUE_BACKENDS = ("celery", "arq")
CONNECT_TIMEOUT = 3.0
MIN_SECRET_LENGTH = 4
"""Passwords shorter than this are not searched for in free text (see :func:`scrub`)."""


class Outcome(enum.Enum):
    """How a check turned out."""

    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"


@dataclass(frozen=True)
class Check:
    """One line of the doctor's report."""

    title: str
    outcome: Outcome
    detail: str = ""
    fix: str = ""
    """What to do about a failed check."""


def ok(title: str, detail: str = "") -> Check:
    """A passed check."""
    return Check(title, Outcome.OK, detail)


def failed(title: str, detail: str, fix: str) -> Check:
    """A failed check and its fix."""
    return Check(title, Outcome.FAILED, detail, fix)


def skipped(title: str, detail: str) -> Check:
    """A check that does not apply to this configuration, or whose input failed (``detail``
    says which)."""
    return Check(title, Outcome.SKIPPED, detail)


def _failed_titles(checks: Sequence[Check]) -> str:
    return "; ".join(check.title for check in checks if check.outcome is Outcome.FAILED)


# -- installed versions -------------------------------------------------------------------


def runtime_requirements() -> list[Requirement]:
    """bgmigrate's own requirements: the core ones and those of the runtime extras."""
    found = []
    for line in importlib.metadata.requires("bgmigrate") or []:
        requirement = Requirement(line)
        marker = requirement.marker
        if marker is None or any(marker.evaluate({"extra": e}) for e in RUNTIME_EXTRAS):
            requirement.marker = None
            found.append(requirement)
    return found


def installed_version(distribution: str) -> str | None:
    """The installed version of ``distribution``, or ``None``."""
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None


def check_versions(
    requirements: Iterable[Requirement],
    version_of: Callable[[str], str | None] = installed_version,
) -> Iterator[Check]:
    """One failed check per installed package outside bgmigrate's pins, else one ok check.

    Packages of extras that are not installed are not reported (the backend check says when
    a backend needs its extra).
    """
    seen: dict[str, str] = {}
    for requirement in requirements:
        version = version_of(requirement.name)
        if version is None or requirement.name in seen:
            continue
        seen[requirement.name] = version
        if not requirement.specifier.contains(version, prereleases=True):
            yield failed(
                f"{requirement.name} {version} is installed",
                f"bgmigrate needs {requirement}",
                f'pip install "{requirement}" (celery and kombu stay on 5.6.x while arq needs '
                "redis<6: see docs/backends.md)",
            )
    yield ok("installed versions compatible", ", ".join(f"{n} {v}" for n, v in seen.items()))


# -- settings and backends ----------------------------------------------------------------


def backends_in_use(settings: Settings) -> list[str]:
    """The default backend and every routed one, in a stable order."""
    return list(dict.fromkeys([settings.backend, *settings.routes.values()]))


def check_backends(settings: Settings) -> Iterator[Check]:
    """Every backend in use can be imported and is a ``TaskBackend``."""
    for name in backends_in_use(settings):
        try:
            cls = backend_class(name)
        except ConfigError as exc:
            yield failed(f"backend {name}", str(exc), _backend_fix(name))
        else:
            yield ok(f"backend {name}", f"{cls.__module__}.{cls.__qualname__}")


def _backend_fix(name: str) -> str:
    if name in QUEUE_BACKENDS:
        return f"pip install 'bgmigrate[{name}]'"
    return "set BGMIGRATE_BACKEND / BGMIGRATE_ROUTES to inprocess, celery, arq or module:Class"


# -- broker and result store --------------------------------------------------------------


def ping(url: str) -> None:
    """Connect to a Redis or AMQP URL and raise if it does not answer."""
    if urlsplit(url).scheme.startswith(("amqp", "pyamqp")):
        from kombu import Connection

        with Connection(url, connect_timeout=CONNECT_TIMEOUT) as connection:
            connection.ensure_connection(max_retries=1)
        return
    import redis

    client = redis.Redis.from_url(
        url, socket_connect_timeout=CONNECT_TIMEOUT, socket_timeout=CONNECT_TIMEOUT
    )
    try:
        client.ping()
    finally:
        client.close()


def check_connections(settings: Settings) -> Iterator[Check]:
    """The broker (and Celery's result store) answer, for the queue backends in use."""
    in_use = [name for name in backends_in_use(settings) if name in QUEUE_BACKENDS]
    if not in_use:
        yield skipped("broker reachable", "no queue backend in use (in-process needs none)")
        return
    urls = [("broker", "BGMIGRATE_BROKER_URL", settings.broker_url)]
    if "celery" in in_use and settings.result_url is not None:
        urls.append(("result store", "BGMIGRATE_RESULT_URL", settings.result_url))
    for what, setting, url in urls:
        title = f"{what} reachable at {redact_url(url)}"
        try:
            ping(url)
        except Exception as exc:  # redis, kombu and socket errors alike: report, never raise
            yield failed(title, f"{type(exc).__name__}: {exc}", _connection_fix(url, setting))
        else:
            yield ok(title)


def _connection_fix(url: str, setting: str) -> str:
    amqp = urlsplit(url).scheme.startswith(("amqp", "pyamqp"))
    server = "RabbitMQ (docker compose --profile rabbitmq up)" if amqp else "Redis"
    return (
        f"start {server}, or point {setting} at a running server; check the host, port and "
        "credentials in the URL"
    )


# -- blob store ---------------------------------------------------------------------------


def check_blob_store(settings: Settings) -> Iterator[Check]:
    """The blob store takes, returns and deletes a probe blob (when one is set)."""
    if settings.blob_store is None:
        yield skipped(
            "blob store reachable", "BGMIGRATE_BLOB_STORE is not set: files cannot go to a queue"
        )
        return
    title = f"blob store reachable at {redact_url(settings.blob_store)}"
    fix = (
        "start the store, or point BGMIGRATE_BLOB_STORE at one that web processes and workers "
        "share (s3:// needs the s3 extra and AWS_* credentials)"
    )
    key, probe_blob, fetched = uuid.uuid4().hex, b"bgmigrate doctor", io.BytesIO()
    try:
        store = configured_store(settings)
        assert store is not None
        store.put(key, io.BytesIO(probe_blob))
        store.fetch(key, fetched)
        store.delete([key])
    except (BlobError, ConfigError) as exc:
        yield failed(title, f"{type(exc).__name__}: {exc}", fix)
        return
    if fetched.getvalue() != probe_blob:
        yield failed(title, "a probe blob read back differs from what was stored", fix)
    else:
        yield ok(title)


# -- tasks --------------------------------------------------------------------------------


def check_tasks(settings: Settings, app_modules: Sequence[str]) -> Iterator[Check]:
    """Task modules import; every app task routed to a queue is known to the workers."""
    queue_in_use = any(name != "inprocess" for name in backends_in_use(settings))
    if not settings.task_modules:
        if queue_in_use:
            yield failed(
                "task modules",
                "BGMIGRATE_TASK_MODULES is empty: workers would register no tasks",
                "set BGMIGRATE_TASK_MODULES to the modules that define your @task functions, "
                "e.g. BGMIGRATE_TASK_MODULES=app.tasks",
            )
        else:
            yield skipped("task modules", "none set (only workers need them)")
        return
    worker = probe(settings.task_modules)
    imports = list(_import_results("task module", settings.task_modules, worker.errors))
    yield from imports
    broken = _failed_titles(imports)
    if broken:
        yield skipped("tasks workers will run", f"needs what failed above: {broken}")
    else:
        yield ok("tasks workers will run", ", ".join(sorted(worker.tasks)) or "none")
        yield check_visibility(settings, worker)
    if app_modules:
        app = probe(app_modules)
        app_imports = list(_import_results("app module", app_modules, app.errors))
        yield from app_imports
        broken = _failed_titles([*imports, *app_imports])
        if broken:
            yield skipped(COVERAGE, f"needs what failed above: {broken}")
        else:
            yield _coverage(app.tasks, set(worker.tasks))


def check_worker_lifespan(settings: Settings) -> Iterator[Check]:
    """The module of ``BGMIGRATE_WORKER_LIFESPAN`` imports as a worker would import it."""
    if settings.worker_lifespan is not None:
        module = settings.worker_lifespan.partition(":")[0]
        yield from _import_results("worker lifespan module", [module], probe([module]).errors)


def _import_results(kind: str, modules: Sequence[str], errors: dict[str, str]) -> Iterator[Check]:
    where = {
        "task module": "run the doctor (and the worker) from the directory your code is "
        "importable from, or set PYTHONPATH",
        "worker lifespan module": "run the doctor (and the worker) from the directory your "
        "code is importable from, or set PYTHONPATH",
        "app module": "run the doctor from the directory your app server starts in",
    }[kind]
    for module in modules:
        if module in errors:
            yield failed(
                f"{kind} {module} imports",
                errors[module],
                f"fix the error, or the module name; {where}",
            )
        else:
            yield ok(f"{kind} {module} imports")
    if "(settings)" in errors or "(probe)" in errors:
        detail = errors.get("(settings)") or errors["(probe)"]
        yield failed(f"{kind}s probe", detail, "fix the error above")


def check_visibility(settings: Settings, worker: ProbeResult) -> Check:
    """Celery on Redis: no task holds its message longer than the visibility timeout (or it is
    delivered again while it runs, and runs twice)."""
    title = f"tasks end within the Redis visibility timeout ({settings.visibility_timeout} s)"
    if "celery" not in backends_in_use(settings) or not applies(settings):
        return skipped(title, "only Celery on a Redis broker re-delivers by a visibility timeout")
    over = redelivered(settings.visibility_timeout, worker.held)
    if over:
        detail = ", ".join(f"{name} up to {seconds:.0f} s" for name, seconds in over.items())
        return failed(title, detail, visibility_fix(over))
    bounded = [s for s in worker.held.values() if s is not None]
    unbounded = len(worker.held) - len(bounded)
    detail = f"longest {max(bounded):.0f} s" if bounded else "no task has a timeout="
    if unbounded and bounded:
        detail += f"; {unbounded} task(s) without timeout= are not bounded"
    return ok(title, detail)


COVERAGE = "every queued task is known to the workers"


def _coverage(app_tasks: dict[str, str], known: set[str]) -> Check:
    title = COVERAGE
    missing = sorted(
        name for name, backend in app_tasks.items() if backend != "inprocess" and name not in known
    )
    if missing:
        return failed(
            title,
            "registered by the app and routed to a queue, unknown to workers: "
            + ", ".join(missing),
            "add the modules that define them to BGMIGRATE_TASK_MODULES (a worker rejects "
            "tasks it does not know)",
        )
    queued = sum(backend != "inprocess" for backend in app_tasks.values())
    return ok(title, f"{queued} of the app's {len(app_tasks)} task(s) go to a queue")


# -- all of it ----------------------------------------------------------------------------


def run_checks(app_modules: Sequence[str] = ()) -> list[Check]:
    """Every check, in order; the rest is skipped when the settings themselves are invalid."""
    checks = list(check_versions(runtime_requirements()))
    try:
        settings = load_settings()
    except ConfigError as exc:
        checks.append(
            failed("settings valid", str(exc), "fix the BGMIGRATE_* variables (or .env) named")
        )
        return checks
    checks.append(ok("settings valid", f"backend {settings.backend}"))
    checks += check_backends(settings)
    checks += check_connections(settings)
    checks += check_blob_store(settings)
    checks += check_tasks(settings, app_modules)
    checks += check_worker_lifespan(settings)
    return [scrub(check, settings) for check in checks]


def scrub(check: Check, settings: Settings) -> Check:
    """``check`` with the passwords of the configured URLs replaced by ``***``.

    URLs are redacted whole and ``:password@`` wherever it appears; a bare password only in
    the detail and the fix, and only from ``MIN_SECRET_LENGTH`` characters on (replacing
    every "ab" of a report would make it unreadable). Titles are built from redacted URLs.
    """
    urls = [url for url in (settings.broker_url, settings.result_url, settings.blob_store) if url]

    def clean(text: str, *, bare: bool) -> str:
        for url in urls:
            text = text.replace(url, redact_url(url))
            password = urlsplit(url).password
            for secret in {password, unquote(password)} if password else set():
                text = text.replace(f":{secret}@", ":***@")
                if bare and len(secret) >= MIN_SECRET_LENGTH:
                    text = text.replace(secret, "***")
        return text

    return Check(
        clean(check.title, bare=False),
        check.outcome,
        clean(check.detail, bare=True),
        clean(check.fix, bare=True),
    )
