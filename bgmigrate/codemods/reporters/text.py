"""``--format text``: a readable report, ``path:line:col`` first so editors can jump to it."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from bgmigrate.codemods.model import CallSiteReport, ScanReport, Verdict

_NAMED = {"\t": "\\t", "\n": "\\n", "\r": "\\r"}
_ESCAPES: dict[int, str] = {
    **{c: _NAMED.get(chr(c), f"\\x{c:02x}") for c in [*range(0x20), *range(0x7F, 0xA0)]},
    # Bytes that are not UTF-8 come through ``os.fsdecode`` as lone surrogates.
    **{0xDC00 + b: f"\\x{b:02x}" for b in range(0x80, 0x100)},
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def printable(text: str) -> str:
    """``text`` with control characters and undecodable bytes escaped (``\\n``, ``\\x1b``,
    ``\\xff``): a file name cannot start a forged line of the report nor drive the terminal."""
    return text if text.isprintable() else text.translate(_ESCAPES)


def _text(line: str, style: str = "") -> Text:
    return Text(printable(line), style=style)


_STYLE = {
    Verdict.KEEP: "green",
    Verdict.MIGRATE: "yellow",
    Verdict.MIGRATE_AFTER_FIX: "red",
    Verdict.MANUAL: "magenta",
}


def _site(console: Console, site: CallSiteReport) -> None:
    head = _text(f"{site.path}:{site.line}:{site.column + 1}: ", style="bold")
    where = site.endpoint or site.function
    kind = "" if site.task_is_async is None else (" (async)" if site.task_is_async else " (sync)")
    head.append(printable(f"{where} -> {site.task or '<unknown callable>'}{kind} "))
    head.append(f"[{site.verdict.value}]", style=_STYLE[site.verdict])
    if site.registered:
        head.append(" (already @task)", style="dim")
    console.print(head)
    if site.observed is not None:
        console.print(_text(f"    observed: {site.observed.summary()}", style="cyan"))
    for finding in site.findings:
        console.print(_text(f"    {finding.rule} {finding.message}"))
        for step in finding.evidence[1:]:
            console.print(_text(f"        at {step.path}:{step.line} {step.what}", style="dim"))


def render(report: ScanReport, console: Console) -> None:
    """Print the report on ``console``."""
    for site in report.call_sites:
        _site(console, site)
    for use in report.other_uses:
        console.print(
            _text(f"{use.path}:{use.line}:{use.column + 1}: BGM110 {use.kind}: {use.message}")
        )
    for unused in report.unused_suppressions:
        codes = ", ".join(unused.codes)
        console.print(_text(f"{unused.path}:{unused.line}:1: BGM199 unused suppression of {codes}"))
    for observed in report.unmatched_evidence:
        console.print(
            _text(
                f"evidence for {observed.task} matches no call site found by the scan: "
                f"{observed.summary()}",
                style="yellow",
            )
        )
    for error in report.errors:
        console.print(
            _text(f"{error.path}:{error.line or 1}:1: error: {error.message}", style="red")
        )
    counts = {v: sum(1 for s in report.call_sites if s.verdict is v) for v in Verdict}
    summary = ", ".join(f"{n} {v.value}" for v, n in counts.items() if n)
    console.print(
        Text(
            f"{report.files_scanned} files scanned, {report.files_parsed} parsed; "
            f"{len(report.call_sites)} call sites ({summary or 'none'}); "
            f"{len(report.other_uses)} other uses; {len(report.errors)} errors",
            style="bold",
        )
    )
