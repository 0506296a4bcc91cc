"""Latency plots (matplotlib) and their PNG bytes, for the live view and the notebooks."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["figure_png", "plot_latencies"]

# ------------------------------------------------------------------------------------------- plots


def plot_latencies(samples: Mapping[str, Sequence[float]], *, title: str = "", done: bool = True) -> Any:
    """The live plot's picture (also the stored final one): for each engine, the running median (ms) against
    the run number (left) and the distribution of its samples (right, a box per engine). Log scales, because
    engines differ by 100x. Returns a matplotlib figure (closed, so it only shows when displayed)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.4), gridspec_kw={"width_ratios": [3, 2]})
    names = [n for n, values in samples.items() if len(values)]
    for name in names:
        values = np.asarray(samples[name], dtype=float)
        # a running median over a growing window: np.median of prefixes, thinned to <= 300 points
        idx = np.unique(np.linspace(1, len(values), num=min(len(values), 300)).astype(int))
        left.plot(idx, [float(np.median(values[:i])) for i in idx], label=name)
    left.set_xlabel("timed runs")
    left.set_ylabel("running median (ms)")
    left.set_yscale("log")
    if names:
        left.legend(loc="upper right", fontsize=8)
        right.boxplot(
            [np.asarray(samples[n], dtype=float) for n in names], orientation="horizontal", whis=(1, 99), sym=""
        )
        right.set_yticks(range(1, len(names) + 1), names, fontsize=8)
        right.set_xscale("log")
    right.set_xlabel("latency (ms), whiskers p1-p99")
    fig.suptitle(title + ("" if done else " (running...)"), fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def figure_png(fig: Any, dpi: int = 80) -> bytes:
    """A matplotlib figure as PNG bytes (what an ``ipywidgets.Image`` or ``IPython.display.Image`` shows)."""
    import io

    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=dpi)
    return buffer.getvalue()
