"""A local S3-compatible server (moto's server mode) shared by the blob tests of a module."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bgmigrate.testing.s3_server import S3Server, S3Unavailable


@pytest.fixture(scope="module")
def s3_server() -> Iterator[S3Server]:
    """A running S3-compatible server with the test bucket; a missing moto fails the test."""
    server = S3Server()
    try:
        server.start()
    except S3Unavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    yield server
    server.stop()
