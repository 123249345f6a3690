"""What a client is told when a request's tasks were not enqueued, and what the log is told.

A broker error names the broker's host, port and database and the tasks involved: useful to an
operator, not to a client. The client gets a generic ``503`` with a request id (in the body and
in the ``X-Request-ID`` header); the log gets the details under the same id.
"""

from __future__ import annotations

import logging
import re
import uuid

from fastapi import HTTPException, Request

from bgmigrate.errors import EnqueueError

REQUEST_ID_HEADER = "X-Request-ID"
RETRY_AFTER = "5"
"""Seconds a client is asked to wait before it retries a refused request."""
_SANE_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")
"""An incoming request id is reused only if it cannot forge log lines or inflate them."""

logger = logging.getLogger("bgmigrate")


def request_id(request: Request) -> str:
    """The request's ``X-Request-ID`` if it is sane (letters, digits, ``._:-``, at most 128),
    else a new random id."""
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    return incoming if _SANE_ID.fullmatch(incoming) else uuid.uuid4().hex


def enqueue_refused(request: Request, exc: EnqueueError) -> HTTPException:
    """Log ``exc`` under a request id and return the generic ``503`` that carries the id."""
    ident = request_id(request)
    logger.error("request %s: its background tasks were not enqueued: %s", ident, exc)
    return HTTPException(
        status_code=503,
        detail=f"The request's background tasks could not be enqueued (request id {ident}).",
        headers={"Retry-After": RETRY_AFTER, REQUEST_ID_HEADER: ident},
    )
