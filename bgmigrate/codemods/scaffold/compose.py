"""Redis and a worker service in the project's docker-compose file (a text edit that keeps its
comments and layout): the worker is the web service's build with ``bgmigrate worker`` as its
command, and both get ``BGMIGRATE_BROKER_URL``. Without a compose file one is written when the
project has a Dockerfile."""

from __future__ import annotations

import os
import re
from pathlib import Path

from bgmigrate.codemods.scaffold.model import Edit, Files, Outcome, text

NAMES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
_DROPPED = ("ports", "command", "container_name", "healthcheck", "expose", "hostname")
_WEB = re.compile(r"uvicorn|gunicorn|hypercorn|fastapi run|granian")
_KEY = re.compile(r"^(\s*)([\w.-]+):")


def find_compose(root: Path) -> Path | None:
    """The compose file of ``root`` or of a parent up to the repository's top (``.git``)."""
    for directory in [root, *root.parents][:4]:
        for name in NAMES:
            if (directory / name).is_file():
                return directory / name
        if (directory / ".git").exists():
            break
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _services(lines: list[str]) -> dict[str, tuple[int, int]] | None:
    """Service name -> ``(first line, end line)`` in the top-level ``services:`` block."""
    start = next((i for i, line in enumerate(lines) if line.rstrip() == "services:"), None)
    if start is None:
        return None
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].strip() and _indent(lines[i]) == 0),
        len(lines),
    )
    heads = [
        (i, m.group(2))
        for i in range(start + 1, end)
        for m in [_KEY.match(lines[i])]
        if m and not lines[i].lstrip().startswith("#")
    ]
    if not heads:
        return {}
    child = min(_indent(lines[i]) for i, _ in heads)
    heads = [(i, name) for i, name in heads if _indent(lines[i]) == child]
    bounds = [i for i, _ in heads[1:]] + [end]
    blocks = {}
    for (first, name), stop in zip(heads, bounds, strict=True):
        while stop > first + 1 and not lines[stop - 1].strip():
            stop -= 1
        blocks[name] = (first, stop)
    return blocks


def _sub_blocks(block: list[str]) -> list[tuple[str | None, list[str]]]:
    """The service's keys with their lines (the head line has key ``None``)."""
    keys: list[tuple[str | None, list[str]]] = [(None, [block[0]])]
    inner = min((_indent(x) for x in block[1:] if x.strip()), default=_indent(block[0]) + 2)
    comments: list[str] = []  # a comment above a key belongs to that key
    for line in block[1:]:
        match = _KEY.match(line)
        if line.lstrip().startswith("#") and _indent(line) == inner:
            comments.append(line)
        elif match and _indent(line) == inner:
            keys.append((match.group(2), [*comments, line]))
            comments = []
        else:
            keys[-1][1].extend([*comments, line])
            comments = []
    keys[-1][1].extend(comments)
    return keys


def _with_env(block: list[str], variable: str, value: str) -> list[str]:
    """``block`` with ``variable`` in its ``environment`` (list or mapping form)."""
    if any(variable in line for line in block):
        return block
    parts = _sub_blocks(block)
    inner = _indent(parts[1][1][0]) if len(parts) > 1 else _indent(block[0]) + 2
    step = inner - _indent(block[0])
    for key, lines in parts:
        if key == "environment":
            items = [x for x in lines[1:] if x.strip()]
            pad = " " * (_indent(items[0]) if items else inner + step)
            listed = bool(items) and items[0].lstrip().startswith("-")
            lines.append(
                f"{pad}- {variable}={value}\n" if listed else f"{pad}{variable}: {value}\n"
            )
            break
    else:
        key = f"{' ' * inner}environment:\n"
        parts.append(("environment", [key, f"{' ' * (inner + step)}- {variable}={value}\n"]))
    return [line for _, lines in parts for line in lines]


def _worker(block: list[str], name: str) -> list[str]:
    """The web service's block as the worker's: its build, volumes and environment kept."""
    parts = [(k, v) for k, v in _sub_blocks(block) if k not in _DROPPED]
    head = parts[0][1][0]
    pad = " " * _indent(head)
    inner = _indent(parts[1][1][0]) if len(parts) > 1 else len(pad) + 2
    lines = [f"{pad}{name}:\n", f"{' ' * inner}command: bgmigrate worker\n"]
    return lines + [line for _, chunk in parts[1:] for line in chunk]


def add_services(files: Files, root: Path) -> Outcome:
    """Redis and a worker in the compose file of ``root`` (or a new ``compose.yaml``)."""
    path = find_compose(root)
    if path is None:
        return _new_compose(root)
    before = files.read(path)
    assert before is not None
    lines = text(path, before).splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    services = _services(lines)
    display = os.path.relpath(path, root)
    if services is None:
        return Outcome(left=[f"{display} has no services: block; add Redis and a worker by hand"])

    def block(name: str) -> list[str]:
        return lines[services[name][0] : services[name][1]]

    redis = next((n for n in services if re.search(r"image:\s*\S*redis", "".join(block(n)))), None)
    web = next((n for n in services if _WEB.search("".join(block(n)))), None)
    outcome = Outcome()
    if web is None:
        outcome.left.append(f"{display}: no web service found; add a `bgmigrate worker` service")
        return outcome
    url = f"redis://{redis or 'redis'}:6379/0"
    added: list[str] = []
    pad = " " * _indent(lines[services[web][0]])
    if redis is None:
        added += ["\n", f"{pad}redis:\n", f"{pad}{pad}image: redis:7-alpine\n"]
    if not any("bgmigrate worker" in "".join(block(n)) for n in services):
        worker = _with_env(_worker(block(web), "worker"), "BGMIGRATE_BROKER_URL", url)
        added += ["\n", *worker]
    first, stop = services[web]
    new_web = _with_env(block(web), "BGMIGRATE_BROKER_URL", url)
    end = max(stop for _, stop in services.values())
    result = lines[:end] + added + lines[end:]
    result[first:stop] = new_web
    after = "".join(result).encode("utf-8")
    outcome.done.append(
        f"{display}: Redis ({redis or 'redis'}), worker service, BGMIGRATE_BROKER_URL={url}"
    )
    if after != before:
        outcome.edits.append(Edit(path, display, before, after))
    return outcome


def _new_compose(root: Path) -> Outcome:
    if not (root / "Dockerfile").is_file():
        left = "no compose file or Dockerfile: run Redis and `bgmigrate worker` beside the app"
        return Outcome(left=[left])
    text = (
        "services:\n"
        "  redis:\n"
        "    image: redis:7-alpine\n"
        "\n"
        "  worker:\n"
        "    build: .\n"
        "    command: bgmigrate worker\n"
        "    environment:\n"
        "      - BGMIGRATE_BROKER_URL=redis://redis:6379/0\n"
        "    depends_on:\n"
        "      - redis\n"
    )
    outcome = Outcome(done=["compose.yaml written: Redis and a worker built from the Dockerfile"])
    outcome.edits.append(Edit(root / "compose.yaml", "compose.yaml", None, text.encode()))
    outcome.left.append("compose.yaml: give the app's own service BGMIGRATE_BROKER_URL too")
    return outcome
