"""Resolve ``module:attribute`` import paths named in settings."""

from __future__ import annotations

import importlib
from typing import Any

from bgmigrate.errors import ConfigError


def import_object(path: str, *, setting: str) -> Any:
    """Import ``module:attribute`` and return the attribute, or raise ``ConfigError``."""
    module_name, sep, attribute = path.partition(":")
    if not sep or not module_name or not attribute:
        raise ConfigError(f"{setting}: {path!r} is not an import path of the form 'module:Name'")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ConfigError(f"{setting}: cannot import module {module_name!r} ({exc})") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise ConfigError(f"{setting}: module {module_name!r} has no {attribute!r}") from exc
