"""The shape explorer, headless: run a model with a symbolic batch and length at a grid of lengths, exactly or
padded to buckets, and report latency, activation memory and what padding did to the answers.

    from course_utils.models.seqmodel import export_seq_model
    from course_utils.bench.shapes import explore_shapes, plot_shapes
    report = explore_shapes(export_seq_model(), batch=8, lengths=(20, 50, 100, 200), bucketing=True)
    print(report)                 # deterministic: shapes run, memory, agreement (no timings)
    report.latency_ms             # the measured part, per length
    plot_shapes(report)           # latency and memory against length (a matplotlib figure)

It uses only ONNX Runtime's public API: one ``InferenceSession`` per model, ``session.run`` with a
``[batch, length]`` array per grid point (padded with zeros at the end to the next bucket when ``bucketing``), and
ONNX's shape inference for the activation memory: the bytes of every intermediate tensor the graph declares, with
its symbolic dimensions set to the run's batch and length (what the runtime must hold, before it reuses buffers).
The view (:mod:`course_utils.views.shapes_view`) only draws what this returns.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from ..onnxfile.render import format_bytes, html_table, text_table

__all__ = [
    "DEFAULT_BUCKETS",
    "DEFAULT_LENGTHS",
    "ShapePoint",
    "ShapeReport",
    "activation_bytes",
    "bucket_for",
    "explore_shapes",
    "plot_shapes",
]

#: The bucket lengths a bucketing server pads to (powers of two, as is usual).
DEFAULT_BUCKETS = (16, 32, 64, 128, 256, 512, 1024)
#: The grid of exact lengths the explorer runs by default.
DEFAULT_LENGTHS = (12, 20, 30, 45, 70, 100, 150, 220, 330, 500)

_ITEM_BYTES = {onnx.TensorProto.FLOAT: 4, onnx.TensorProto.INT64: 8, onnx.TensorProto.DOUBLE: 8}


def bucket_for(length: int, buckets: Sequence[int] = DEFAULT_BUCKETS) -> int:
    """The smallest bucket that holds ``length`` samples; a ``ValueError`` names the largest when none does."""
    fitting = [b for b in sorted(buckets) if b >= length]
    if not fitting:
        raise ValueError(
            f"length {length} is longer than the largest bucket ({max(buckets)}): add a bucket or cut the input"
        )
    return fitting[0]


def activation_bytes(model: onnx.ModelProto, sizes: dict[str, int]) -> int:
    """Bytes of every intermediate tensor of ``model`` (shape inference's ``value_info``, not the weights), with
    each symbolic dimension replaced by ``sizes[name]``. A dimension shape inference left unknown counts as 1."""
    inferred = onnx.shape_inference.infer_shapes(model)
    weights = {t.name for t in inferred.graph.initializer}
    total = 0
    for value in inferred.graph.value_info:
        if value.name in weights or not value.type.HasField("tensor_type"):
            continue
        tensor = value.type.tensor_type
        count = 1
        for d in tensor.shape.dim:
            count *= d.dim_value if d.HasField("dim_value") else sizes.get(d.dim_param, 1)
        total += count * _ITEM_BYTES.get(tensor.elem_type, 4)
    return total


@dataclass(frozen=True)
class ShapePoint:
    """One grid point: the signal's own ``length``, the length actually run (the bucket, or the same), the median
    latency of the runs (ms, measured), the activation memory at the run length, and how many of the batch's
    predictions equal those of the exact-length run (all of them without bucketing)."""

    length: int
    run_length: int
    latency_ms: float
    activation_bytes: int
    agree: int


@dataclass(frozen=True)
class ShapeReport:
    """What :func:`explore_shapes` measured. ``text()``/``html()`` show the deterministic part (timings are in
    :attr:`latency_ms` and the plot only), so a notebook's stored output does not change between runs."""

    model: str
    input_name: str
    input_dims: tuple[str | int, ...]
    batch: int
    bucketing: bool
    buckets: tuple[int, ...]
    points: tuple[ShapePoint, ...]

    @property
    def lengths(self) -> list[int]:
        """The signals' own lengths, in order."""
        return [p.length for p in self.points]

    @property
    def latency_ms(self) -> list[float]:
        """The median latency at each length (ms, measured: differs from run to run)."""
        return [p.latency_ms for p in self.points]

    @property
    def distinct_shapes(self) -> int:
        """How many different input shapes the session saw (each one is planned once: memory, kernels)."""
        return len({p.run_length for p in self.points})

    @property
    def padded_fraction(self) -> float:
        """The share of the samples run that were padding (wasted work)."""
        run = sum(p.run_length for p in self.points)
        return 0.0 if run == 0 else 1.0 - sum(p.length for p in self.points) / run

    @property
    def agreement(self) -> tuple[int, int]:
        """(predictions equal to the exact-length run's, predictions made), over the whole grid."""
        return sum(p.agree for p in self.points), self.batch * len(self.points)

    def _rows(self) -> tuple[list[str], list[list[str]]]:
        headers = ["length", "run as", "activation memory", "same prediction as exact"]
        rows = [
            [
                str(p.length),
                f"[{self.batch}, {p.run_length}]",
                format_bytes(p.activation_bytes),
                f"{p.agree}/{self.batch}",
            ]
            for p in self.points
        ]
        return headers, rows

    def headline(self) -> str:
        """One line: the mode, shapes seen, padding, agreement."""
        mode = f"padded to buckets {list(self.buckets)}" if self.bucketing else "exact lengths"
        same, made = self.agreement
        return (
            f"{self.model}: batch {self.batch}, {len(self.points)} lengths, {mode}: "
            f"{self.distinct_shapes} distinct input shapes, {self.padded_fraction:.0%} of the samples run are "
            f"padding, {same}/{made} predictions as at the exact length"
        )

    def text(self) -> str:
        """The deterministic summary: the headline and one row per length (no timings)."""
        headers, rows = self._rows()
        return "\n".join([self.headline(), *text_table(rows, headers)])

    def html(self) -> str:
        """The same summary as HTML (a caption and a table)."""
        headers, rows = self._rows()
        return html_table(rows, headers, caption=self.headline())

    def __str__(self) -> str:
        return self.text()


def _session(model: str | Path | onnx.ModelProto) -> Any:
    from course_utils.runtime.sessions import create_session

    source: str | bytes = model.SerializeToString() if isinstance(model, onnx.ModelProto) else str(model)
    return create_session(source)


def _median_ms(run: Any, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def explore_shapes(
    model: str | Path | onnx.ModelProto,
    *,
    batch: int = 8,
    lengths: Sequence[int] = DEFAULT_LENGTHS,
    bucketing: bool = False,
    buckets: Sequence[int] = DEFAULT_BUCKETS,
    repeats: int = 5,
    seed: int = 0,
) -> ShapeReport:
    """Run ``model`` (input ``[batch, length]`` float32, e.g. :func:`course_utils.models.seqmodel.export_seq_model`) at
    each of ``lengths`` on waveforms from :func:`course_utils.models.seqmodel.make_waveforms`, exactly or padded with
    zeros to the next of ``buckets``. Each point: one warm-up run (the first run at a new shape plans it), then the
    median of ``repeats`` timed runs. Raises ``ValueError`` for an input that is not two-dimensional."""
    from ..models.seqmodel import make_waveforms, pad_to

    if batch < 1 or repeats < 1 or not lengths:
        raise ValueError(f"explore_shapes needs batch >= 1, repeats >= 1 and some lengths (got {batch}, {repeats})")
    session = _session(model)
    graph = onnx.load(str(model)) if not isinstance(model, onnx.ModelProto) else model
    (first, *rest) = session.get_inputs()
    if rest or len(first.shape) != 2:
        raise ValueError(
            f"the shape explorer runs models with one input [batch, length]; this one takes "
            f"{[(i.name, i.shape) for i in session.get_inputs()]}"
        )
    batch_dim, length_dim = (d if isinstance(d, str) else "" for d in first.shape)
    points = []
    for length in sorted(lengths):
        x, _ = make_waveforms(batch, length, seed=seed + length)
        exact = session.run(None, {first.name: x})[0].argmax(axis=1)
        run_length = bucket_for(length, buckets) if bucketing else length
        feed = {first.name: pad_to(x, run_length) if bucketing else x}
        predicted = session.run(None, feed)[0].argmax(axis=1)  # also the warm-up at this shape
        latency = _median_ms(lambda feed=feed: session.run(None, feed), repeats)
        memory = activation_bytes(graph, {batch_dim: batch, length_dim: run_length})
        points.append(ShapePoint(length, run_length, latency, memory, int(np.sum(predicted == exact))))
    name = Path(str(model)).name if not isinstance(model, onnx.ModelProto) else (model.graph.name or "model")
    return ShapeReport(name, first.name, tuple(first.shape), batch, bucketing, tuple(sorted(buckets)), tuple(points))


def plot_shapes(*reports: ShapeReport) -> Any:
    """Latency (left, measured) and activation memory (right) against the signal's length, one line per report
    (exact vs bucketed side by side). Returns a closed matplotlib figure (display it, or ``figure_png`` it)."""
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.2))
    for report in reports:
        label = "padded to buckets" if report.bucketing else "exact lengths"
        style = "--" if report.bucketing else "-"
        left.plot(report.lengths, report.latency_ms, style, marker="o", markersize=3, label=label)
        right.plot(
            report.lengths,
            [p.activation_bytes / 1024 for p in report.points],
            style,
            marker="o",
            markersize=3,
            label=label,
        )
    left.set_xlabel("signal length (samples)")
    left.set_ylabel("median latency (ms)")
    right.set_xlabel("signal length (samples)")
    right.set_ylabel("activation memory (KiB)")
    for axis in (left, right):
        axis.legend(fontsize=8)
        axis.grid(alpha=0.3)
    batch = ", ".join(sorted({str(r.batch) for r in reports}))
    fig.suptitle(f"{reports[0].model if reports else ''} at batch {batch}", fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig
