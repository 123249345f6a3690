"""Recreate the real-code corpus and measure the audit against its hand-written labels.

``fetch`` brings every application of ``corpus/manifest.toml`` to ``.corpus/<owner>+<name>/``
at its pinned commit (from a local bare mirror when there is one, else from GitHub);
``measure`` scans each application with ``bgmigrate scan --format json``, compares the
reported call sites with ``corpus/labels.csv`` and writes ``docs/accuracy.md``.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
MANIFEST = ROOT / "corpus" / "manifest.toml"
LABELS = ROOT / "corpus" / "labels.csv"
LOOK_ALIKES = ROOT / "corpus" / "lookalikes.csv"
CORPUS = ROOT / ".corpus"
ACCURACY = ROOT / "docs" / "accuracy.md"
BGMIGRATE = ROOT / ".venv" / "bin" / "bgmigrate"

#: The verdicts, in the order the confusion matrix shows them.
VERDICTS = ("keep-in-process", "migrate", "migrate-after-fix", "manual")
#: The column for a hand-built ``BackgroundTask(...)`` reported for review, without a verdict.
NO_VERDICT = "no verdict"
#: The column for a labelled site the scan did not report.
MISSED = "not reported"
#: Every column of the confusion matrix.
COLUMNS = (*VERDICTS, NO_VERDICT, MISSED)
#: What grep counts as a possible call site.
CANDIDATE = re.compile(r"\badd_task\(|\bBackgroundTask\(")


@dataclass(frozen=True, kw_only=True)
class App:
    """One application of the manifest."""

    repo: str
    """``owner/name`` on GitHub."""
    commit: str
    """The pinned commit (40 hex digits)."""
    subdir: str
    """The package to scan, relative to the repository root."""
    kind: str
    """``general`` or ``ai``."""
    description: str
    """One line on what the application is."""

    @property
    def slug(self) -> str:
        """The directory name under ``.corpus/``."""
        return self.repo.replace("/", "+")


@dataclass(frozen=True, kw_only=True)
class Label:
    """One real BackgroundTasks call site, judged by reading its code."""

    app: str
    path: str
    """Relative to the application's ``subdir``."""
    line: int
    callee: str
    verdict: str
    breaks_if_moved_as_is: bool
    reason: str


@dataclass(frozen=True, kw_only=True)
class Reported:
    """One call site as the scan reported it."""

    path: str
    line: int
    verdict: str
    """One of VERDICTS, or NO_VERDICT for a hand-built ``BackgroundTask(...)``."""


@dataclass(kw_only=True)
class Measure:
    """How the scan of one application (or of all of them) compares with the labels."""

    labelled: int = 0
    found: int = 0
    look_alikes: list[Reported] = field(default_factory=list)
    """Reported sites that no label names (not real BackgroundTasks uses)."""
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(label, reported verdict or NO_VERDICT or MISSED) -> sites."""
    disagreements: list[tuple[Label, str]] = field(default_factory=list)
    """Labelled sites whose reported verdict differs, with that verdict."""
    unsafe_migrate: list[Label] = field(default_factory=list)
    """Sites reported ``migrate`` whose label says the move as is would break."""
    unlabelled: list[str] = field(default_factory=list)
    """``path:line`` of grep hits that are neither labelled nor known look-alikes."""
    files: int = 0
    seconds: float = 0.0

    @property
    def agreeing(self) -> int:
        """Labelled sites whose reported verdict is the label."""
        return sum(n for (label, got), n in self.confusion.items() if label == got)

    def add(self, other: Measure) -> None:
        """Fold another application's figures into these."""
        self.labelled += other.labelled
        self.found += other.found
        self.look_alikes += other.look_alikes
        self.confusion.update(other.confusion)
        self.disagreements += other.disagreements
        self.unsafe_migrate += other.unsafe_migrate
        self.unlabelled += other.unlabelled
        self.files += other.files
        self.seconds += other.seconds


def load_apps(manifest: Path = MANIFEST) -> list[App]:
    """The applications of the manifest, in its order."""
    with manifest.open("rb") as file:
        return [App(**entry) for entry in tomllib.load(file)["app"]]


def load_labels(path: Path = LABELS) -> list[Label]:
    """Every labelled call site of the corpus."""
    with path.open(newline="") as file:
        return [
            Label(
                app=row["app"],
                path=row["path"],
                line=int(row["line"]),
                callee=row["callee"],
                verdict=row["verdict"],
                breaks_if_moved_as_is=row["breaks_if_moved_as_is"] == "yes",
                reason=row["reason"],
            )
            for row in csv.DictReader(file)
        ]


def _mirror_git_dir(mirror: Path, app: App) -> Path | None:
    """The git directory a ``fetch`` left for APP under MIRROR (bare or with a work tree)."""
    for candidate in (mirror / app.slug / "repo" / ".git", mirror / app.slug / "repo"):
        if (candidate / "HEAD").is_file() and (candidate / "objects").is_dir():
            return candidate
    return None


def _extract(git_dir: Path, app: App, work: Path) -> None:
    """Write APP's package at its commit from the git directory GIT_DIR into WORK."""
    work.mkdir()
    # Only the scanned package: a mirror can lack the repository's large files (git then
    # complains on stderr about objects outside the package, which do not matter here).
    command = ["git", f"--git-dir={git_dir}", "archive", app.commit, "--", app.subdir]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as archive:
        subprocess.run(["tar", "-x", "-C", str(work)], stdin=archive.stdout, check=True)
    if archive.returncode != 0:
        raise SystemExit(f"`{' '.join(command)}` failed")


def _clone(app: App, work: Path) -> None:
    """Clone APP from GitHub into WORK and check its pinned commit out."""
    subprocess.run(
        ["git", "clone", "--quiet", f"https://github.com/{app.repo}", str(work)], check=True
    )
    subprocess.run(
        ["git", "-c", "advice.detachedHead=false", "checkout", "--quiet", app.commit],
        cwd=work,
        check=True,
    )


def fetch_app(app: App, mirror: Path | None, into: Path = CORPUS) -> Path:
    """APP's tree at its pinned commit under INTO; nothing is done when it is already there."""
    target = into / app.slug
    stamp = target / ".corpus-commit"
    if stamp.is_file() and stamp.read_text().strip() == app.commit:
        return target
    into.mkdir(parents=True, exist_ok=True)
    git_dir = _mirror_git_dir(mirror, app) if mirror else None
    with tempfile.TemporaryDirectory(dir=into, prefix=f".{app.slug}-") as partial:
        work = Path(partial) / "tree"
        if git_dir is None:
            _clone(app, work)
        else:
            _extract(git_dir, app, work)
        (work / ".corpus-commit").write_text(app.commit + "\n")
        shutil.rmtree(target, ignore_errors=True)
        work.rename(target)
    return target


def load_look_alikes(path: Path = LOOK_ALIKES) -> set[tuple[str, str, int]]:
    """(app, path, line) of grep hits checked by hand and found not to be BackgroundTasks."""
    with path.open(newline="") as file:
        return {(row["app"], row["path"], int(row["line"])) for row in csv.DictReader(file)}


def reported_sites(report: dict[str, Any]) -> list[Reported]:
    """The call sites of a ``scan --format json`` report, hand-built single tasks included."""
    sites = [
        Reported(path=site["path"], line=site["line"], verdict=site["verdict"])
        for site in report["call_sites"]
    ]
    sites += [
        Reported(path=use["path"], line=use["line"], verdict=NO_VERDICT)
        for use in report["other_uses"]
        if use["kind"] == "single"
    ]
    return sites


def compare(labels: Iterable[Label], reported: Iterable[Reported]) -> Measure:
    """Recall, look-alikes, verdict confusion and unsafe ``migrate`` of one application."""
    by_place = {(site.path, site.line): site for site in reported}
    measure = Measure()
    labelled_places = set()
    for label in labels:
        labelled_places.add((label.path, label.line))
        measure.labelled += 1
        site = by_place.get((label.path, label.line))
        got = MISSED if site is None else site.verdict
        measure.found += site is not None
        measure.confusion[label.verdict, got] += 1
        if got != label.verdict:
            measure.disagreements.append((label, got))
        if got == "migrate" and label.breaks_if_moved_as_is:
            measure.unsafe_migrate.append(label)
    measure.look_alikes = [
        site for place, site in sorted(by_place.items()) if place not in labelled_places
    ]
    return measure


def grep_sites(root: Path, subdir: str) -> list[tuple[str, int]]:
    """(path, line) of every line under ROOT/SUBDIR that looks like a BackgroundTasks call site."""
    hits = []
    for file in sorted((root / subdir).rglob("*.py")):
        text = file.read_text(encoding="utf-8", errors="replace")
        relative = file.relative_to(root).as_posix()
        hits += [
            (relative, number)
            for number, line in enumerate(text.splitlines(), start=1)
            if CANDIDATE.search(line)
        ]
    return hits


def scan(app: App, corpus: Path = CORPUS) -> tuple[dict[str, Any], float]:
    """APP's ``bgmigrate scan --format json`` report and the seconds the scan took."""
    started = time.perf_counter()
    completed = subprocess.run(
        [str(BGMIGRATE), "scan", "--format", "json", "--no-cache", "--no-progress", app.subdir],
        cwd=corpus / app.slug,
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.perf_counter() - started
    # 2: some file could not be parsed (newer syntax than this Python, e.g. PEP 695 generics
    # read while following an annotation); the report lists it and the rest is still judged.
    if completed.returncode not in (0, 1, 2) or not completed.stdout:
        raise SystemExit(f"bgmigrate scan failed on {app.repo}:\n{completed.stderr}")
    report: dict[str, Any] = json.loads(completed.stdout)
    return report, seconds


def measure_app(
    app: App, labels: Sequence[Label], look_alikes: set[tuple[str, str, int]]
) -> Measure:
    """Scan APP and compare the report with its labels and with grep."""
    root = CORPUS / app.slug
    if not (root / ".corpus-commit").is_file():
        raise SystemExit(f"{root} is missing: run `scripts/corpus.py fetch` first")
    own = [label for label in labels if label.app == app.repo]
    report, seconds = scan(app)
    measure = compare(own, reported_sites(report))
    known = {(label.path, label.line) for label in own}
    measure.unlabelled = [
        f"{path}:{line}"
        for path, line in grep_sites(root, app.subdir)
        if (path, line) not in known and (app.repo, path, line) not in look_alikes
    ]
    measure.files = report["files_scanned"]
    measure.seconds = seconds
    return measure


def _percent(part: int, whole: int) -> str:
    return f"{100 * part / whole:.0f}%" if whole else "-"


REGENERATE = (
    ".venv/bin/python scripts/corpus.py fetch && .venv/bin/python scripts/corpus.py measure"
)
TIMING = re.compile(r"<!-- timing -->.*<!-- end timing -->\n", re.DOTALL)


def _summary(apps: Sequence[App], measures: dict[str, Measure], total: Measure) -> list[str]:
    lines = [
        "| Application | Kind | Labelled sites | Found (recall) | Look-alikes | Verdicts agreeing"
        " | `migrate` that would break |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    rows = [
        (f"[{app.repo}](https://github.com/{app.repo})", app.kind, measures[app.repo])
        for app in apps
    ]
    for name, kind, measure in [*rows, ("**All**", "", total)]:
        lines.append(
            f"| {name} | {kind} | {measure.labelled}"
            f" | {measure.found} ({_percent(measure.found, measure.labelled)})"
            f" | {len(measure.look_alikes)}"
            f" | {measure.agreeing} ({_percent(measure.agreeing, measure.labelled)})"
            f" | {len(measure.unsafe_migrate)} |"
        )
    return lines


def _confusion(total: Measure) -> list[str]:
    lines = [
        "| Label \\ reported | "
        + " | ".join(f"`{column}`" for column in COLUMNS)
        + " | Agreement |",
        "| --- |" + " ---: |" * (len(COLUMNS) + 1),
    ]
    for label in VERDICTS:
        counts = [total.confusion[label, column] for column in COLUMNS]
        agreement = _percent(total.confusion[label, label], sum(counts))
        lines.append(f"| `{label}` | " + " | ".join(map(str, counts)) + f" | {agreement} |")
    return lines


def _site_rows(rows: Iterable[tuple[Label, str]]) -> list[str]:
    lines = [
        "| Site | Task | Label | Reported | Why (from reading the code) |",
        "| --- | --- | --- | --- | --- |",
    ]
    for label, got in rows:
        reason = label.reason.replace("|", "\\|")
        lines.append(
            f"| {label.app} `{label.path}:{label.line}` | `{label.callee}` | `{label.verdict}`"
            f" | `{got}` | {reason} |"
        )
    return lines


def render(apps: Sequence[App], measures: dict[str, Measure]) -> str:
    """docs/accuracy.md for these applications and their measures."""
    total = Measure()
    for measure in measures.values():
        total.add(measure)
    timing = [
        "<!-- timing -->",
        f"Scanning the {total.files} Python files of the {len(apps)} applications took"
        f" {total.seconds:.1f} s in all (`--no-cache`).",
        "<!-- end timing -->",
    ]
    parts = [
        f"<!-- generated by `{REGENERATE}`: do not edit by hand -->",
        "# Accuracy on real code",
        "",
        "How `bgmigrate scan` judges real applications nobody here wrote. The corpus is "
        f"{len(apps)} public FastAPI applications pinned in `corpus/manifest.toml` (fetched into "
        "`.corpus/`, never committed). Every `add_task(...)` and `BackgroundTask(...)` call site "
        "in them, found by grep and by the scan, is labelled in `corpus/labels.csv` by reading "
        "its task's code: the verdict a careful engineer gives (see [the audit rules](rules.md)), "
        "whether moving it to a queue as is would break the application, and why. Grep hits "
        "that are not BackgroundTasks are listed in `corpus/lookalikes.csv`.",
        "",
        f"Regenerate this page with `{REGENERATE}`.",
        "",
        "## Summary",
        "",
        *_summary(apps, measures, total),
        "",
        *timing,
        "",
        "## Verdicts, labelled against reported",
        "",
        f"`{NO_VERDICT}`: a hand-built `BackgroundTask(...)` reported for review without a verdict;"
        f" `{MISSED}`: the scan did not report the site.",
        "",
        *_confusion(total),
        "",
        "## Sites reported `migrate` whose move as is would break",
        "",
        *(
            _site_rows((label, "migrate") for label in total.unsafe_migrate)
            if total.unsafe_migrate
            else ["None."]
        ),
        "",
        "## Look-alikes and unlabelled grep hits",
        "",
        *[
            f"- look-alike reported: `{site.path}:{site.line}` ({site.verdict})"
            for site in total.look_alikes
        ],
        *[f"- grep hit without a label: `{place}`" for place in total.unlabelled],
        *([] if total.look_alikes or total.unlabelled else ["None."]),
        "",
        "## Every disagreement",
        "",
        *_site_rows(total.disagreements),
        "",
        "## The corpus",
        "",
        "| Application | Commit | Scanned | What it is |",
        "| --- | --- | --- | --- |",
        *[
            f"| {app.repo} | [`{app.commit[:10]}`](https://github.com/{app.repo}/tree/{app.commit})"
            f" | `{app.subdir}` | {app.description} |"
            for app in apps
        ],
    ]
    return "\n".join(parts) + "\n"


def main_fetch(args: argparse.Namespace) -> int:
    """``fetch``: bring every application to ``.corpus/`` at its pinned commit."""
    mirror = Path(args.mirror) if args.mirror else None
    for app in load_apps():
        print(f"{app.repo} @ {app.commit[:10]} -> {fetch_app(app, mirror)}")
    return 0


def main_measure(args: argparse.Namespace) -> int:
    """``measure``: scan every application, compare with the labels, write docs/accuracy.md."""
    apps, labels, look_alikes = load_apps(), load_labels(), load_look_alikes()
    measures = {}
    for app in apps:
        measures[app.repo] = measure = measure_app(app, labels, look_alikes)
        print(
            f"{app.repo}: {measure.found}/{measure.labelled} found,"
            f" {len(measure.look_alikes)} look-alikes,"
            f" {measure.agreeing}/{measure.labelled} verdicts agree,"
            f" {len(measure.unsafe_migrate)} unsafe migrate, {measure.seconds:.1f} s"
        )
    page = render(apps, measures)
    if args.check:
        committed = ACCURACY.read_text() if ACCURACY.is_file() else ""
        if TIMING.sub("", committed) != TIMING.sub("", page):
            print(f"{ACCURACY.relative_to(ROOT)} is stale: run {REGENERATE}", file=sys.stderr)
            return 1
        return 0
    ACCURACY.write_text(page)
    print(f"wrote {ACCURACY.relative_to(ROOT)}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``fetch`` or ``measure`` subcommand."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    fetch = commands.add_parser("fetch", help="recreate .corpus/ at the pinned commits")
    fetch.add_argument(
        "--mirror",
        default=os.environ.get("BGMIGRATE_CORPUS_MIRROR"),
        help="directory of mirrors laid out as OWNER+NAME/repo, as the search tool's fetch leaves"
        " them (default: $BGMIGRATE_CORPUS_MIRROR); without one, each application is cloned",
    )
    fetch.set_defaults(run=main_fetch)
    measure = commands.add_parser("measure", help="scan the corpus and write docs/accuracy.md")
    measure.add_argument("--check", action="store_true", help="exit 1 if docs/accuracy.md is stale")
    measure.set_defaults(run=main_measure)
    args = parser.parse_args(argv)
    result: int = args.run(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
