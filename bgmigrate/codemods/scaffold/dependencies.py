"""``bgmigrate[celery]``/``bgmigrate[arq]`` in the project's dependencies: PEP 621
``[project] dependencies``, Poetry's ``[tool.poetry.dependencies]`` or ``requirements.txt``,
whichever the project uses. Lock files are never touched: the checklist says to re-lock, and
names the exact pins (``pydantic==2.8.2``) that bgmigrate's own requirements exclude."""

from __future__ import annotations

import importlib.metadata
import re
from collections.abc import Iterable
from pathlib import Path

import tomlkit
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from tomlkit.items import Array, Table

from bgmigrate import __version__
from bgmigrate.codemods.scaffold.model import Edit, Files, Outcome, parse_toml, text

_LOCKS = ("poetry.lock", "uv.lock", "pdm.lock", "Pipfile.lock")
_NAME = re.compile(r"^\s*bgmigrate\s*(\[[^\]]*\])?", re.IGNORECASE)
_PIN = re.compile(
    r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*(?:\[[^\]]*\])?\s*===?\s*([^\s;,#]+)\s*(?:[;#]|$)"
)
"""An exact pin: ``name==version`` (extras, a marker or a comment may follow)."""


def _floor() -> str:
    """The lowest version the rewritten code needs: this release."""
    return ".".join(__version__.split(".")[:3])


def _requirement(backend: str) -> str:
    return f"bgmigrate[{backend}]>={_floor()}"


def _with_extra(line: str, backend: str) -> str | None:
    """``line`` (a requirement naming bgmigrate) with the backend extra; ``None`` if it has it."""
    match = _NAME.match(line)
    assert match is not None
    extras = [e.strip() for e in (match.group(1) or "[]")[1:-1].split(",") if e.strip()]
    if backend in extras:
        return None
    joined = ",".join([*extras, backend])
    name_end = match.start(1) if match.group(1) else match.end()
    return f"{line[:name_end]}[{joined}]{line[match.end() :]}"


def _needs(backend: str) -> dict[str, SpecifierSet]:
    """What installed bgmigrate requires with the backend's extra, by normalised name (none
    when its metadata cannot be read, e.g. run from a source tree)."""
    try:
        raw = importlib.metadata.requires("bgmigrate") or []
    except importlib.metadata.PackageNotFoundError:
        return {}
    needs: dict[str, SpecifierSet] = {}
    for line in raw:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue
        if requirement.marker is None or requirement.marker.evaluate({"extra": backend}):
            name = canonicalize_name(requirement.name)
            needs[name] = needs.get(name, SpecifierSet()) & requirement.specifier
    return needs


def pin_conflicts(requirements: Iterable[str], backend: str) -> list[str]:
    """The exact pins (``name==version``) among ``requirements`` that bgmigrate[backend]'s own
    requirements exclude, each with what bgmigrate needs."""
    needs = _needs(backend)
    conflicts = []
    for line in requirements:
        match = _PIN.match(line)
        if match is None:
            continue
        name, version = match.groups()
        needed = needs.get(canonicalize_name(name))
        if needed is not None and not needed.contains(version, prereleases=True):
            conflicts.append(f"{name}=={version} (needs {canonicalize_name(name)}{needed})")
    return conflicts


def _pins_left(where: str, requirements: Iterable[str], backend: str) -> list[str]:
    """The checklist line about pins bgmigrate cannot install beside, if any."""
    conflicts = pin_conflicts(requirements, backend)
    if not conflicts:
        return []
    return [
        f"{where} pins {', '.join(conflicts)}: bgmigrate[{backend}] cannot be installed beside "
        "them; raise those pins and re-resolve what they pin in turn"
    ]


def _pep621(dependencies: Array, backend: str) -> bool:
    """Add or extend the requirement in ``[project] dependencies``; whether it changed."""
    for index, item in enumerate(dependencies):
        if _NAME.match(str(item)):
            extended = _with_extra(str(item), backend)
            if extended is None:
                return False
            dependencies[index] = extended
            return True
    dependencies.append(_requirement(backend))
    return True


def _poetry(dependencies: Table, backend: str) -> bool:
    current = dependencies.get("bgmigrate")
    if isinstance(current, dict) and backend in current.get("extras", []):
        return False
    entry = tomlkit.inline_table()
    version = current.get("version") if isinstance(current, dict) else current
    entry.update({"version": version or f">={_floor()}", "extras": [backend]})
    if isinstance(current, dict):
        entry["extras"] = [*current.get("extras", []), backend]
    dependencies["bgmigrate"] = entry
    return True


def _pyproject(files: Files, path: Path, backend: str) -> tuple[Outcome, bool]:
    """The edit of ``pyproject.toml``, and whether it declares dependencies at all."""
    before = files.read(path)
    if before is None:
        return Outcome(), False
    document = parse_toml(path, before)
    project = document.get("project", {})
    poetry = document.get("tool", {}).get("poetry", {}).get("dependencies")
    if isinstance(project.get("dependencies"), Array):
        changed = _pep621(project["dependencies"], backend)
        where = "pyproject.toml [project] dependencies"
    elif isinstance(poetry, Table):
        changed = _poetry(poetry, backend)
        where = "pyproject.toml [tool.poetry.dependencies]"
    else:
        return Outcome(), False
    outcome = Outcome(done=[f"{where}: bgmigrate[{backend}]"])
    if isinstance(project.get("dependencies"), Array):
        outcome.left += _pins_left(where, map(str, project["dependencies"]), backend)
    if changed:
        after = tomlkit.dumps(document).encode("utf-8")
        outcome.edits.append(Edit(path, "pyproject.toml", before, after))
    return outcome, True


def _requirements(files: Files, path: Path, backend: str) -> Outcome:
    before = files.read(path)
    assert before is not None
    lines = text(path, before).splitlines(keepends=True)
    outcome = Outcome(done=[f"{path.name}: bgmigrate[{backend}]"])
    outcome.left += _pins_left(path.name, lines, backend)
    for index, line in enumerate(lines):
        if _NAME.match(line) and not line.lstrip().startswith("#"):
            extended = _with_extra(line, backend)
            if extended is None:
                return outcome
            lines[index] = extended
            break
    else:
        if lines and not lines[-1].endswith("\n"):
            lines[-1] += "\n"
        lines.append(_requirement(backend) + "\n")
    outcome.edits.append(Edit(path, path.name, before, "".join(lines).encode("utf-8")))
    return outcome


def add_dependency(files: Files, root: Path, backend: str) -> Outcome:
    """Declare ``bgmigrate[backend]`` where the project declares its dependencies."""
    outcome, declared = _pyproject(files, root / "pyproject.toml", backend)
    if not declared:
        if (root / "requirements.txt").is_file():
            outcome = _requirements(files, root / "requirements.txt", backend)
        else:
            outcome.left.append(f"add {_requirement(backend)} to the project's dependencies")
    locks = [name for name in _LOCKS if (root / name).is_file()]
    if locks and outcome.edits:
        outcome.left.append(f"re-lock: {', '.join(locks)} predates bgmigrate[{backend}]")
    return outcome
