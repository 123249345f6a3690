"""Speed of ``bgmigrate scan`` as ratios measured side by side in one run (never timed tests).

Usage: ``python bench/codemod.py [ROOT] [--files N]`` (default ROOT: this interpreter's
site-packages — thousands of real files, a few percent of which mention BackgroundTasks).

Measured on the same file list, one after another:

- ``libcst_all``:   a bare ``libcst.parse_module`` of every file, one process;
- ``cheap_libcst``: the cheap byte test on every file + ``libcst.parse_module`` of candidates;
- ``scan_1`` / ``scan_N``: the whole scan (discovery excluded, analysis + audit) with 1 and N
  processes, no cache;
- ``scan_cached``: the same scan again with a warm cache.

Targets (issue 4): libcst_all / scan_N >= 10; scan_1 / cheap_libcst <= 3;
scan_1 / scan_2 >= 1.6; scan_cached well below scan_1.
"""

from __future__ import annotations

import argparse
import os
import sysconfig
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import libcst

from bgmigrate.codemods.audit import run_audit
from bgmigrate.codemods.cache import cache_file
from bgmigrate.codemods.discovery import SourceFile, discover
from bgmigrate.codemods.project import build, is_candidate
from bgmigrate.codemods.pyproject import CodemodConfig

CONFIG = CodemodConfig(exclude=("__pycache__",), respect_gitignore=False, cache=False)


def timed(label: str, work: Callable[[], object], repeat: int = 1) -> float:
    """The best wall time of ``repeat`` runs of ``work``, in seconds (the machine is shared:
    the minimum is the run least disturbed by others)."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        work()
        best = min(best, time.perf_counter() - start)
    print(f"  {label:<14} {best:8.2f} s  (best of {repeat})", flush=True)
    return best


def parse_all(files: list[SourceFile]) -> None:
    """Bare libcst parse of every file (unparsable ones are skipped)."""
    for source in files:
        try:
            libcst.parse_module(source.abs_path.read_bytes())
        except Exception:
            continue


def cheap_then_parse(files: list[SourceFile]) -> None:
    """The byte test on every file, libcst only on candidates."""
    for source in files:
        data = source.abs_path.read_bytes()
        if is_candidate(data):
            try:
                libcst.parse_module(data)
            except Exception:
                continue


def scan(files: list[SourceFile], jobs: int, cache_path: Path | None = None) -> None:
    """Analysis and audit, as ``bgmigrate scan`` runs them."""
    run_audit(build(files, jobs, None, cache_path), CONFIG)


def main() -> None:
    """Measure and print the ratios."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "root", nargs="?", type=Path, default=Path(sysconfig.get_paths()["purelib"])
    )
    parser.add_argument("--files", type=int, default=0, help="use only the first N files")
    args = parser.parse_args()
    files = sorted(discover([args.root], CONFIG, args.root))
    files = files[: args.files] if args.files else files
    lines = sum(s.abs_path.read_bytes().count(b"\n") for s in files)
    candidates = sum(1 for s in files if is_candidate(s.abs_path.read_bytes()))
    jobs = os.cpu_count() or 1
    print(f"{len(files)} files, {lines} lines, {candidates} candidates; {jobs} cores")
    libcst_all = timed("libcst_all", lambda: parse_all(files))
    cheap = timed("cheap_libcst", lambda: cheap_then_parse(files), repeat=3)
    scan_1 = timed("scan_1", lambda: scan(files, 1), repeat=3)
    scan_n = timed(f"scan_{jobs}", lambda: scan(files, jobs), repeat=3)
    with tempfile.TemporaryDirectory() as tmp:
        path = cache_file(Path(tmp), CONFIG.fingerprint())
        scan(files, jobs, path)
        cached = timed("scan_cached", lambda: scan(files, jobs, path), repeat=3)
    print(f"libcst_all / scan_{jobs}:    {libcst_all / scan_n:7.1f}x  (target >= 10)")
    print(f"scan_1 / cheap_libcst: {scan_1 / cheap:7.2f}   (target <= 3)")
    print(f"scan_1 / scan_{jobs}:        {scan_1 / scan_n:7.2f}x  (target >= 1.6 for 2 cores)")
    print(f"scan_cached / scan_1:  {cached / scan_1:7.2f}")
    print(f"libcst lines/s (1 core): {lines / libcst_all:,.0f}")


if __name__ == "__main__":
    main()
