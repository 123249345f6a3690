"""``bgmigrate doctor``: check the configuration and say how to fix what is wrong."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from bgmigrate.diagnosis import Check, Outcome, run_checks

_MARKS = {
    Outcome.OK: "[green]✓[/green]",
    Outcome.FAILED: "[red]✗[/red]",
    Outcome.SKIPPED: "[yellow]-[/yellow]",
}


def render(checks: list[Check], console: Console) -> None:
    """Print one line per check, with the fix under each failed one."""
    for check in checks:
        detail = f" [dim]— {escape(check.detail)}[/dim]" if check.detail else ""
        status = " [yellow](skipped)[/yellow]" if check.outcome is Outcome.SKIPPED else ""
        console.print(f"{_MARKS[check.outcome]} {escape(check.title)}{status}{detail}")
        if check.fix:
            console.print(f"    [bold]fix:[/bold] {escape(check.fix)}")
    failures = sum(check.outcome is Outcome.FAILED for check in checks)
    if failures:
        console.print(f"[red]{failures} problem(s) found[/red]")
    else:
        console.print("[green]all checks passed[/green]")


def doctor(
    app_modules: Annotated[
        list[str] | None,
        typer.Option(
            "--app",
            help="Module of your application (repeatable; 'module:app' accepted): its tasks "
            "routed to a queue must be known to the workers.",
        ),
    ] = None,
) -> None:
    """Check the configuration: settings, backends, broker, blob store, task modules, worker
    lifespan, versions.

    Prints a green or red line per check, with the fix under each red one; a check that
    does not apply, or whose input failed, is marked "- ... (skipped)" with the reason.
    URLs are shown with their password replaced by ***.
    Exit codes: 0 all green, 1 a check failed, 2 usage error.

    Examples:

      bgmigrate doctor
      BGMIGRATE_BACKEND=arq BGMIGRATE_TASK_MODULES=app.tasks \\
        bgmigrate doctor --app app.main
    """
    modules = [name.partition(":")[0] for name in app_modules or []]
    checks = run_checks(modules)
    render(checks, Console(highlight=False, soft_wrap=True))
    raise typer.Exit(1 if any(check.outcome is Outcome.FAILED for check in checks) else 0)
