"""The local S3-compatible server for tests starts with its bucket, and stops."""

from __future__ import annotations

import boto3
import pytest

from bgmigrate.testing.s3_server import BUCKET, S3Server


def test_a_started_server_holds_the_bucket_and_stops(monkeypatch: pytest.MonkeyPatch) -> None:
    server = S3Server()
    server.start()
    try:
        for name, value in server.environment().items():
            monkeypatch.setenv(name, value)
        buckets = boto3.client("s3").list_buckets()["Buckets"]
        assert [bucket["Name"] for bucket in buckets] == [BUCKET]
    finally:
        server.stop()
    assert server.process is not None
    assert server.process.poll() is not None
