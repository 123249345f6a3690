"""Broker URLs are validated, and their passwords never printed."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from bgmigrate.errors import ConfigError
from bgmigrate.urls import check_url, is_redis_url, redact_url


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("redis://:s3cret@127.0.0.1:6379/0", "redis://:***@127.0.0.1:6379/0"),
        ("amqp://guest:s3cret@rabbit:5672//", "amqp://guest:***@rabbit:5672//"),
        ("redis://127.0.0.1:6379/0", "redis://127.0.0.1:6379/0"),
        ("unix:///tmp/r.sock?db=1&password=s3cret", "unix:///tmp/r.sock?db=1&password=***"),
    ],
)
def test_redact_hides_only_the_password(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@pytest.mark.parametrize("password", ["pa#ss", "pa/ss", "pa?ss", "a#b/c?d", "p@ss", "#", "s3cret/"])
@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_redact_hides_passwords_that_break_url_parsing(scheme: str, password: str) -> None:
    redacted = redact_url(f"{scheme}://user:{password}@broker:6379/0")
    assert redacted == f"{scheme}://user:***@broker:6379/0"
    assert password not in redacted


@pytest.mark.parametrize(
    "url", ["redis://127.0.0.1:6379/1", "amqp://guest:guest@127.0.0.1:5672//", "unix:///tmp/r.sock"]
)
def test_supported_urls_pass(url: str) -> None:
    assert check_url(url, setting="X") == url


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("postgres://db/1", "unsupported scheme"),
        ("redis://", "has no host"),
        ("redis://:pw@host:99999/0", "not a valid URL"),
    ],
)
def test_unusable_urls_fail_with_the_setting_named(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=f"BROKER_URL: .*{problem}") as caught:
        check_url(url, setting="BROKER_URL")
    assert ":pw@" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "redis"),
    [
        ("redis://127.0.0.1:6379/0", True),
        ("rediss://host:6380/0", True),
        ("unix:///tmp/redis.sock", True),
        ("amqp://guest:guest@127.0.0.1:5672//", False),
        (None, False),
    ],
)
def test_redis_urls_are_told_from_amqp_ones(url: str | None, redis: bool) -> None:
    assert is_redis_url(url) is redis


UNESCAPED = ["Xk2#Qz9", "Xk2/Qz9", "Xk2?Qz9", "Xk2#Qz9/Vb7?Lm4"]
"""Passwords written into a URL without percent-escaping (each piece must stay hidden)."""


@pytest.mark.parametrize("password", UNESCAPED)
@pytest.mark.parametrize(
    "argv",
    [
        ["worker", "--backend", "celery"],
        ["worker", "--backend", "arq"],
        ["doctor"],
        ["python", "-c", "import bgmigrate; bgmigrate.configure(backend='arq')"],
    ],
    ids=["celery-worker", "arq-worker", "doctor", "app-start-up"],
)
def test_no_command_prints_a_password_that_breaks_url_parsing(
    argv: list[str], password: str
) -> None:
    binary = Path(sys.executable).parent / ("python" if argv[0] == "python" else "bgmigrate")
    env = {**os.environ, "BGMIGRATE_BROKER_URL": f"redis://:{password}@127.0.0.1:6379/0"}
    command = [str(binary), *argv[1:]] if argv[0] == "python" else [str(binary), *argv]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    assert "BGMIGRATE_BROKER_URL" in output  # the error is about the URL...
    for piece in re.split(r"[#/?]", password):
        assert piece not in output  # ...and shows none of the password
