"""PNG charts with matplotlib's Agg backend (no display needed)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt


def grouped_bars(
    path: Path,
    *,
    title: str,
    groups: Sequence[str],
    series: Mapping[str, Sequence[float]],
    ylabel: str,
    log: bool = False,
) -> None:
    """One group of bars per ``groups`` entry, one bar per series, values printed on top."""
    fig, ax = plt.subplots(figsize=(10, 5.2), dpi=110)
    count = max(len(series), 1)
    width = 0.8 / count
    for index, (name, values) in enumerate(series.items()):
        offsets = [g + (index - (count - 1) / 2) * width for g in range(len(groups))]
        bars = ax.bar(offsets, values, width, label=name)
        ax.bar_label(bars, labels=[_short(v) for v in values], fontsize=7, padding=1)
    ax.set_xticks(range(len(groups)), groups)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    if log:
        ax.set_yscale("log")
    ax.legend(fontsize=8)
    ax.grid(axis="y", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def horizontal_bars(path: Path, *, title: str, labels: Sequence[str], values: Sequence[float], xlabel: str) -> None:
    fig, ax = plt.subplots(figsize=(9, 1.2 + 0.6 * len(labels)), dpi=110)
    bars = ax.barh(list(labels), list(values), color="tab:blue")
    ax.bar_label(bars, labels=[_short(v) for v in values], fontsize=8, padding=2)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _short(value: float) -> str:
    if value >= 10_000:
        return f"{value / 1000:.0f}k"
    if value >= 1000:
        return f"{value / 1000:.1f}k"
    if value >= 10:
        return f"{value:.0f}"
    return f"{value:.2g}"
