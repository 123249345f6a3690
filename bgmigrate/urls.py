"""Broker and result-store URLs: validation and redaction (secrets are never printed)."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from bgmigrate.errors import ConfigError

#: URL schemes that point at Redis; the other supported ones speak AMQP.
REDIS_SCHEMES = ("redis", "rediss", "unix")
#: URL schemes accepted for ``BROKER_URL`` and ``RESULT_URL``.
SUPPORTED_SCHEMES = (*REDIS_SCHEMES, "amqp", "amqps", "pyamqp")


def is_redis_url(url: str | None) -> bool:
    """Whether ``url`` points at Redis (rather than an AMQP broker)."""
    return url is not None and url.partition("://")[0] in REDIS_SCHEMES


def redact_url(url: str) -> str:
    """Return ``url`` with its password (if any) replaced by ``***``.

    The URL is not parsed: a password with an unescaped ``#``, ``/``, ``?`` or ``@`` would
    make a parser see another netloc. Everything between ``://`` and the *last* ``@`` is the
    user information, so such a password is still hidden (at worst, more than the password
    is); a ``password=`` query parameter is hidden too.
    """
    scheme, separator, rest = url.partition("://")
    if not separator:
        scheme, rest = "", url
    userinfo, at, location = rest.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if at and colon:
        userinfo = f"{user}:***"
    location = _PASSWORD_PARAMETER.sub(r"\1***", location)
    return f"{scheme}{separator}{userinfo}{at}{location}"


_PASSWORD_PARAMETER = re.compile(r"((?:^|[?&;])password=)[^&;]*", re.IGNORECASE)


def check_url(url: str, *, setting: str) -> str:
    """Return ``url`` unchanged if it is a usable broker/result URL, else raise ``ConfigError``."""
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - evaluating .port validates it
    except ValueError:
        # Not chained, not quoted: the parser's message can hold a piece of the password.
        raise ConfigError(
            f"{setting}: {redact_url(url)!r} is not a valid URL: its port is not a number up to "
            "65535, or its password holds '#', '/', '?' or '@' (percent-encode them: %23, "
            "%2F, %3F, %40)"
        ) from None
    if parts.scheme not in SUPPORTED_SCHEMES:
        choices = ", ".join(f"{scheme}://" for scheme in SUPPORTED_SCHEMES)
        raise ConfigError(
            f"{setting}: {redact_url(url)!r} has an unsupported scheme; use one of {choices}"
        )
    if parts.scheme != "unix" and not parts.hostname:
        raise ConfigError(
            f"{setting}: {redact_url(url)!r} has no host (e.g. redis://127.0.0.1:6379/0)"
        )
    return url


POSTGRES_SCHEMES = ("postgresql", "postgres")


def check_postgres_url(url: str, *, setting: str) -> str:
    """Return ``url`` if it is a PostgreSQL URL (``postgresql://``, or SQLAlchemy's
    ``postgresql+driver://``), else raise ``ConfigError``."""
    scheme = url.partition("://")[0].partition("+")[0]
    if scheme not in POSTGRES_SCHEMES or "://" not in url:
        raise ConfigError(
            f"{setting}: {redact_url(url)!r} is not a PostgreSQL URL "
            "(e.g. postgresql://user@127.0.0.1:5432/app)"
        )
    return url


def libpq_url(url: str) -> str:
    """``url`` as libpq (psycopg) reads it: SQLAlchemy's ``+driver`` suffix removed."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.partition('+')[0]}://{rest}"


#: URL schemes accepted for ``BLOB_STORE`` besides Redis's.
BLOB_SCHEMES = ("file", "s3")


def check_blob_url(url: str) -> str:
    """Return ``url`` unchanged if it names a blob store (Redis, a directory, an S3 bucket)."""
    setting = "BGMIGRATE_BLOB_STORE"
    scheme = url.partition("://")[0]
    if is_redis_url(url):
        return check_url(url, setting=setting)
    parts = urlsplit(url)
    if scheme == "file" and parts.path.startswith("/") and not parts.netloc:
        return url
    if scheme == "s3" and parts.netloc:
        return url
    raise ConfigError(
        f"{setting}: {redact_url(url)!r} is not a blob store; use redis://host:port/db, "
        "file:///absolute/shared/dir or s3://bucket/prefix"
    )
