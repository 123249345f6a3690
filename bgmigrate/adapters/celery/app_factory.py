"""Celery applications configured from bgmigrate's settings, for publishers and for workers.

Defaults are at-least-once: late acknowledgement, re-delivery of tasks whose worker process
died, one message prefetched per process. JSON only (no pickle). Results, when
``RESULT_URL`` is set, are kept ``RESULT_TTL`` seconds with the task name (``result_extended``)
so that handles can decode them with the task's return type.
"""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from bgmigrate.settings import Settings
from bgmigrate.urls import is_redis_url

logger = logging.getLogger("bgmigrate.celery")

DEFAULT_QUEUE = "celery"
TRANSPORT = "bgmigrate.adapters.celery.transport:Transport"
"""kombu's Redis transport, logging and dropping messages that are not Celery messages."""
MAX_PRIORITY = 9
"""bgmigrate priorities run from 0 (lowest) to 9 (highest)."""


def broker_priority(settings: Settings, priority: int) -> int:
    """bgmigrate priority (9 = most urgent) in the broker's terms.

    RabbitMQ runs higher numbers first; kombu's Redis transport runs lower numbers first.
    """
    return MAX_PRIORITY - priority if is_redis_url(settings.broker_url) else priority


def celery_config(settings: Settings) -> dict[str, Any]:
    """Celery configuration for ``settings``."""
    config: dict[str, Any] = {
        "broker_url": settings.broker_url,
        "broker_connection_retry_on_startup": True,
        "broker_connection_timeout": 3,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "task_track_started": True,
        "task_default_queue": settings.default_queue or DEFAULT_QUEUE,
        "enable_utc": True,
        "timezone": "UTC",
        "result_backend": settings.result_url,
        "task_ignore_result": settings.result_url is None,
        "result_extended": True,
        "result_expires": settings.result_ttl,
        # A task that finished (result stored) but whose worker died before acknowledging it is
        # re-delivered: with a result store, the worker sees it succeeded and skips it.
        "worker_deduplicate_successful_tasks": settings.result_url is not None,
    }
    if is_redis_url(settings.broker_url):
        if settings.broker_url.startswith("redis://"):  # rediss:// keeps kombu's TLS handling
            config["broker_transport"] = TRANSPORT
        config["broker_transport_options"] = {
            "visibility_timeout": settings.visibility_timeout,
            "priority_steps": list(range(MAX_PRIORITY + 1)),
            "queue_order_strategy": "priority",
        }
    else:
        # RabbitMQ only orders by priority on queues declared with x-max-priority.
        config["task_queue_max_priority"] = MAX_PRIORITY
    return config


def make_app(settings: Settings, *, main: str = "bgmigrate", publisher: bool = False) -> Celery:
    """A Celery app configured from ``settings`` (no tasks registered).

    A ``publisher`` app has no result backend: handles read results from Redis themselves, and
    Celery's Redis backend would otherwise subscribe to a result channel for every task sent
    (a round trip per task). Workers still store results: that is their configuration.
    """
    app = Celery(main, set_as_current=False)
    config = celery_config(settings)
    if publisher:
        config["result_backend"] = None
    app.conf.update(config)
    return app
