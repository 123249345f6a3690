"""The one chart the benchmarks draw: grouped bars, written as a PNG (matplotlib, headless)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def grouped_bars(
    path: Path,
    *,
    title: str,
    ylabel: str,
    groups: Sequence[str],
    series: dict[str, Sequence[float]],
    label_format: str,
    log_scale: bool = False,
    size: tuple[float, float] = (8, 4.2),
) -> None:
    """Two bars per group (one per ``series`` entry), each labelled with its value."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=size, dpi=100)
    offsets = (-0.2, 0.2)
    for offset, (label, values) in zip(offsets, series.items(), strict=True):
        bars = axes.bar([x + offset for x in range(len(groups))], values, width=0.4, label=label)
        axes.bar_label(bars, fmt=label_format, fontsize=8)
    axes.set_xticks(range(len(groups)), list(groups), fontsize=9)
    if log_scale:
        axes.set_yscale("log")
    axes.set_ylabel(ylabel)
    axes.set_title(title, fontsize=10)
    axes.legend()
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path)
    plt.close(figure)
