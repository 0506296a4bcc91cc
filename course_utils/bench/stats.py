"""Latency statistics: percentiles, spread and the summary of one engine's samples."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

__all__ = ["LatencyStats", "latency_stats"]

# ------------------------------------------------------------------------------------------- statistics


@dataclass(frozen=True)
class LatencyStats:
    """Summary of latency samples, in milliseconds. ``spread`` is p90/p50: 1.0 is a perfectly steady engine."""

    runs: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    mean_ms: float
    min_ms: float
    iqr_ms: float

    @property
    def spread(self) -> float:
        """p90 / p50: how much slower the slow runs are than the typical one (NaN for a zero median)."""
        return self.p90_ms / self.p50_ms if self.p50_ms > 0 else math.nan

    def __str__(self) -> str:
        return (
            f"{self.runs} runs: p50 {self.p50_ms:.4g} ms, p90 {self.p90_ms:.4g} ms, p99 {self.p99_ms:.4g} ms, "
            f"mean {self.mean_ms:.4g} ms, min {self.min_ms:.4g} ms, spread p90/p50 {self.spread:.2f}"
        )


def latency_stats(samples_ms: Iterable[float]) -> LatencyStats:
    """Percentiles (p50 = median, p90, p99), mean, minimum and interquartile range of ``samples_ms``.

    The median, not the mean, is the headline number: a shared machine adds rare long pauses that drag the mean
    up; p90/p99 show how long the slow runs are. Raises ``ValueError`` for no samples.
    """
    values = sorted(float(v) for v in samples_ms)
    if not values:
        raise ValueError("latency_stats needs at least one sample: the benchmark ran zero times")
    p25, p50, p75, p90, p99 = (float(p) for p in np.percentile(values, [25, 50, 75, 90, 99]))  # linear, numpy's default
    return LatencyStats(
        runs=len(values),
        p50_ms=p50,
        p90_ms=p90,
        p99_ms=p99,
        mean_ms=statistics.fmean(values),
        min_ms=values[0],
        iqr_ms=p75 - p25,
    )
