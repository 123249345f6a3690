"""The command-line reference published in ``docs/cli.md``, generated from the typer app."""

from __future__ import annotations

import enum
import textwrap
from typing import Any

import typer.main

from bgmigrate.cli import app

#: typer's shell-completion options: not bgmigrate's own, the same for every typer app.
_SKIPPED = {"install_completion", "show_completion"}


def cli_reference() -> str:
    """Markdown for the root command and every subcommand (groups' commands included): help,
    usage, options, examples."""
    return "\n".join(_sections("bgmigrate", typer.main.get_command(app)))


def _sections(path: str, command: Any) -> list[str]:
    commands: dict[str, Any] = getattr(command, "commands", {})
    sections = [_command(path, command, subcommands=sorted(commands))]
    for name in sorted(commands):
        sections += _sections(f"{path} {name}", commands[name])
    return sections


def _command(path: str, command: Any, subcommands: list[str] | None = None) -> str:
    params = [p for p in command.params if p.name not in _SKIPPED]
    arguments = [p for p in params if p.param_type_name == "argument"]
    usage = [path, "[OPTIONS]"] + [_argument(p) for p in arguments]
    if subcommands:
        usage.append("COMMAND [ARGS]...")
    text, examples = _split_examples(f"{command.help or ''}\n\n{command.epilog or ''}")
    text = text.replace("*", "\\*")  # BGMIGRATE_*, *** are not emphasis
    lines = [f"## `{path}`", "", text, "", "```text", " ".join(usage), "```", ""]
    if subcommands:
        lines += ["Commands: " + ", ".join(f"`{name}`" for name in subcommands), ""]
    lines += _options(params)
    if examples:
        lines += ["Examples:", "", "```sh", examples, "```", ""]
    return "\n".join(lines)


def _split_examples(help_text: str) -> tuple[str, str]:
    """The description and the example commands of a docstring (after ``Example(s):``)."""
    head, marker, tail = help_text.partition("Example")
    if not marker:
        return help_text.strip(), ""
    body = tail.partition("\n")[2]
    return head.strip(), textwrap.dedent(body.strip("\n")).rstrip()


def _options(params: list[Any]) -> list[str]:
    rows = ["| Option | Default | Meaning |", "|---|---|---|"]
    for param in params:
        names = ", ".join(f"`{name}`" for name in [*param.opts, *param.secondary_opts])
        if param.param_type_name == "argument":
            names = f"`{_argument(param)}`"
        meaning = (param.help or "").replace("|", "\\|").replace("*", "\\*")
        rows.append(f"| {names} | {_default(param.default)} | {meaning} |")
    rows.append("| `--help` |  | Show the help and exit. |")
    return [*rows, ""]


def _argument(param: Any) -> str:
    name = param.name.upper() if param.required else f"[{param.name.upper()}]"
    return f"{name}..." if param.nargs == -1 else name


def _default(value: object) -> str:
    if value is None or value is False or value in ([], ()):
        return ""
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{value}`"
