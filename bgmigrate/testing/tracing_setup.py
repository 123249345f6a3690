"""A worker's tracing for tests: import it as one of ``BGMIGRATE_TASK_MODULES`` (it registers no
task).

With ``BGMIGRATE_TEST_SPANS`` set, the worker exports its spans to that file; with
``BGMIGRATE_TEST_LOGS``, it writes its log records there with job and trace ids; with
``BGMIGRATE_TEST_CELERY_INSTRUMENTOR=1``, OpenTelemetry's Celery instrumentation is active too.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

from bgmigrate.testing.span_files import export_spans_to, log_jobs_to

SPANS_ENV = "BGMIGRATE_TEST_SPANS"
LOGS_ENV = "BGMIGRATE_TEST_LOGS"
CELERY_INSTRUMENTOR_ENV = "BGMIGRATE_TEST_CELERY_INSTRUMENTOR"


def _set_up() -> None:
    if os.environ.get(SPANS_ENV):
        export_spans_to(Path(os.environ[SPANS_ENV]))
    if os.environ.get(LOGS_ENV):
        logs = Path(os.environ[LOGS_ENV])
        if "celery" in sys.modules:
            # A Celery worker replaces the root logger's handlers once its app is loaded.
            from celery.signals import after_setup_logger

            after_setup_logger.connect(lambda **_: log_jobs_to(logs), weak=False)
        else:
            log_jobs_to(logs)
    if os.environ.get(CELERY_INSTRUMENTOR_ENV) == "1":
        from opentelemetry.instrumentation.celery import CeleryInstrumentor

        CeleryInstrumentor().instrument()  # type: ignore[no-untyped-call]


_set_up()
