"""The comparison of every variant (:func:`compare`, :class:`QuantReport`) and its latency/accuracy plot."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from course_utils.paths import relative_to_repo
from course_utils.quantize.calibration import (
    EVALUATION_SEED,
    CourseModel,
    UnknownConfigError,
    course_torch_model,
    photo_crops,
    prepare_model,
)
from course_utils.quantize.configs import CONFIGS, QuantConfig, get_config, quantize
from course_utils.quantize.evaluate import Fusion, accuracy, fusion, op_counts, predict, time_p50, torch_p50

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["QuantReport", "VariantResult", "compare", "plot_tradeoff"]


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:.0f} kB"


@dataclass(frozen=True)
class VariantResult:
    """One variant of one model: file, structure, accuracy (digits) or top-1 agreement with fp32 (ResNet-18)."""

    name: str
    description: str
    path: str
    size_bytes: int
    fusion: Fusion | None
    quality: float  # accuracy (digits_cnn) or agreement with fp32 (resnet18), 0..1
    p50_ms: float | None = None


@dataclass(frozen=True)
class QuantReport:
    """Every variant of a model side by side. ``str()``/HTML show the same rows; timings only when measured."""

    model: str
    quality_name: str  # "accuracy" or "top-1 agreement with fp32"
    results: tuple[VariantResult, ...]
    baselines_ms: dict[str, float] = field(default_factory=dict)  # e.g. {"torch-eager": 27.0}

    def _rows(self, timings: bool = True) -> list[list[str]]:
        show_time = timings and any(r.p50_ms is not None for r in self.results)
        header = ["variant", "size", "convolutions at run time", self.quality_name]
        if show_time:
            header += ["p50 ms", *[f"vs {name}" for name in self.baselines_ms]]
        rows = [header]
        for r in self.results:
            row = [r.name, _size(r.size_bytes), str(r.fusion) if r.fusion else "-", f"{r.quality:.1%}"]
            if show_time:
                row.append("-" if r.p50_ms is None else f"{r.p50_ms:.1f}")
                row += ["-" if r.p50_ms is None else f"{ms / r.p50_ms:.1f}x" for ms in self.baselines_ms.values()]
            rows.append(row)
        for name, ms in self.baselines_ms.items() if show_time else ():
            rows.append([name, "-", "-", "-", f"{ms:.1f}", *["1.0x" if n == name else "-" for n in self.baselines_ms]])
        return rows

    def table(self, timings: bool = True) -> str:
        """The rows as aligned text; ``timings=False`` leaves out the measured columns (the same on every CPU)."""
        rows = self._rows(timings)
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)

    def __str__(self) -> str:
        return f"{self.model}\n{self.table()}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, *body = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
        return (
            f"<p><b>{html.escape(self.model)}</b></p><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )

    def get(self, name: str) -> VariantResult:
        """The result of variant ``name``."""
        for result in self.results:
            if result.name == name:
                return result
        raise UnknownConfigError(f"no variant '{name}' in this report: {', '.join(r.name for r in self.results)}")

    def to_json(self) -> str:
        """The report as JSON (paths relative to the course folder)."""
        return json.dumps(asdict(self), indent=2)


def compare(
    model: CourseModel,
    configs: Sequence[str | QuantConfig] | None = None,
    measure: bool = True,
    budget_s: float = 1.0,
    threads: int = 2,
    reuse: QuantReport | None = None,
) -> QuantReport:
    """Build every variant of a course model and report size, run-time structure, quality and (``measure``) speed.

    Quality is test accuracy for ``"digits_cnn"`` and top-1 agreement with fp32 on 64 photo crops (never used
    in calibration) for ``"resnet18"``. Fusion counts use ``session.qdqisint8allowed`` = "0" (x86's default),
    so they are the same on every machine; timings use this machine's defaults, and the PyTorch baseline is the
    faster of 1 and ``threads`` threads. Rows (and baselines) of an earlier ``reuse`` report for the same files
    are kept rather than measured again."""
    pre = prepare_model(model)
    previous = {(r.name, r.path): r for r in reuse.results} if reuse is not None and reuse.model == model else {}
    chosen = [get_config(c) for c in (configs if configs is not None else CONFIGS.values())]
    if model == "digits_cnn":
        from course_utils.models.data import load_digits

        digits = load_digits()
        images: np.ndarray = digits.x_test
        labels = digits.y_test
        quality_name = "accuracy"
        feed = digits.x_test[:1]

        def quality(path: Path) -> float:
            return accuracy(path, images, labels)

    else:
        images = photo_crops(64, EVALUATION_SEED)
        quality_name = "top-1 agreement with fp32"
        feed = images[:1]
        reference = predict(pre, images).argmax(1)

        def quality(path: Path) -> float:
            return float((predict(path, images).argmax(1) == reference).mean())

    convs = op_counts(pre).get("Conv", 0)
    results = [
        previous.get(("fp32", relative_to_repo(pre)))
        or VariantResult(
            "fp32",
            "quant_pre_process output (batch norm folded)",
            relative_to_repo(pre),
            pre.stat().st_size,
            None,
            quality(pre),
            time_p50(pre, feed, budget_s, threads) if measure else None,
        )
    ]
    for config in chosen:
        path = quantize(pre, config)
        earlier = previous.get((config.name, relative_to_repo(path)))
        results.append(
            earlier
            or VariantResult(
                config.name,
                config.description,
                relative_to_repo(path),
                path.stat().st_size,
                fusion(path, convs),
                quality(path),
                time_p50(path, feed, budget_s, threads) if measure else None,
            )
        )
    baselines: dict[str, float] = {}
    if measure:
        baselines = dict(reuse.baselines_ms) if previous and reuse is not None and reuse.baselines_ms else {}
        if not baselines:
            # The faster of 1 and `threads` threads: on a busy machine PyTorch's OpenMP threads wait on each other
            # and 2 threads can run several times slower than 1; on a quiet one the thread count given wins.
            module = course_torch_model(model)
            baselines = {"torch-eager": min(torch_p50(module, feed, budget_s, t) for t in sorted({1, threads}))}
    return QuantReport(model, quality_name, tuple(results), baselines)


def plot_tradeoff(report: QuantReport, ax: Any = None) -> Figure:
    """Latency (x, log scale) vs quality (y) per variant; marker area proportional to file size."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    timed = [r for r in report.results if r.p50_ms is not None]
    biggest = max((r.size_bytes for r in timed), default=1)
    for r in timed:
        ax.scatter(r.p50_ms, 100 * r.quality, s=40 + 900 * r.size_bytes / biggest, alpha=0.5)
        ax.annotate(
            f"{r.name}\n{_size(r.size_bytes)}", (r.p50_ms, 100 * r.quality), ha="center", va="center", fontsize=8
        )
    for name, ms in report.baselines_ms.items():
        ax.axvline(ms, color="grey", linestyle="--", linewidth=1)
        ax.annotate(name, (ms, ax.get_ylim()[0]), rotation=90, va="bottom", ha="right", fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.15)  # room for the labels of the points at the edges
    ax.set_xlabel("p50 latency, ms (log scale; lower is better)")
    ax.set_ylabel(f"{report.quality_name}, %")
    ax.set_title(f"{report.model}: latency vs {report.quality_name} (marker size = file size)")
    figure: Figure = ax.figure
    figure.tight_layout()
    return figure
