"""Benchmarks done right: warm-up, an adaptive number of runs within a time budget, percentiles, and rows that
say how close each engine comes to this CPU's limit.

The calls a learner already knows (``ort.InferenceSession``, ``session.run``, ``time.perf_counter``), plus:

* :func:`measure` times any zero-argument callable: warm-up first (never timed), then runs until a time budget
  is spent (at least ``min_runs``, at most ``max_runs``), with an optional progress callback for live plots;
* :func:`latency_stats` turns samples into :class:`LatencyStats` (p50/p90/p99, mean, IQR, spread);
* :func:`benchmark` runs named *engines* on a *target* (a model at a batch size) and returns a
  :class:`BenchReport` of :class:`BenchRow` s, rendered as a text or HTML table (one ``_rows()`` source) and
  exported with :meth:`BenchReport.to_json`;
* :func:`measure_peak_gflops` measures this CPU's fp32 peak with matrix products, and
  :func:`harness_overhead_us` the harness's own cost per timed run;
* :func:`speed_verdict` and :func:`budget_verdict` turn measured rows into a :class:`Verdict` (faster, slower,
  about the same; meets or misses a latency budget), or say "noisy: rerun on an idle machine" when the rows
  cannot support a conclusion (too few runs, a wide p90/p50 spread, a busy machine: :func:`machine_load`);
* ``python -m course_utils.bench MODEL [MODEL ...] [--engines ...] [--threads N] [--batch N] [--json FILE]``
  reproduces the lesson's table (progress on stderr).

Engines and their registry (the API lesson 07 builds on)
--------------------------------------------------------
An engine is a name plus a factory. The factory receives the :class:`BenchTarget` (the ONNX file, the input
feed at the chosen batch size, the framework model when there is one) and the thread count, and returns either
a zero-argument callable that runs one inference, or a :class:`Prepared` (that callable, plus extra columns
for the row, plus an optional ``close`` run after timing)::

    from course_utils.bench import Prepared, register_engine

    def make_int8(target, threads):
        session = ort.InferenceSession(quantize(target.onnx_path), sess_options=..., providers=[...])
        agreement = top1_agreement(session, target)          # computed once, before timing
        return Prepared(lambda: session.run(None, target.feed), extra={"top1_agreement": agreement})

    register_engine("ort-int8-static", make_int8, description="ORT, static QDQ int8", needs="onnx")

``needs`` says what the target must provide: ``"onnx"`` (every target), ``"torch"`` (a PyTorch module: the
course models ``digits_cnn``, ``resnet18`` and ``efficientnet_lite0``) or ``"keras"`` (``keras_cnn``); :func:`benchmark` skips an
engine a target cannot run and says so. Extra columns appear in the table after the standard ones and in the
JSON rows under their own names (``"top1_agreement": 0.98``). ``flops_from="onnx"`` (default) counts the FLOPs of
``target.onnx_path``; an engine that runs a different graph (a quantized one) still does the same arithmetic
work per image, so GFLOP/s stay comparable across engines.

Built-in engines: ``ort-all``, ``ort-layout``, ``ort-extended``, ``ort-basic``, ``ort-disable`` (ONNX Runtime at
each graph optimization level, CPU provider), ``torch-eager`` (the PyTorch module, ``torch.inference_mode``),
``tf-function`` (the Keras model called inside a ``tf.function``), ``onnx-reference`` (onnx's reference
evaluator: correct, slow, not a runtime).

Each engine's session/model is released after it is timed, so idle ORT worker threads never spin while another
engine runs (ORT#13808). Speed is measured and printed, never asserted.
"""

from __future__ import annotations

import argparse
import functools
import gc
import html
import json
import logging
import math
import os
import statistics
import sys
import time
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from .errors import CourseError
from .render import html_table, text_table

__all__ = [
    "COURSE_MODELS",
    "ENGINES",
    "BenchReport",
    "BenchRow",
    "BenchTarget",
    "Engine",
    "LatencyStats",
    "Prepared",
    "Timings",
    "UnknownEngineError",
    "UnknownModelError",
    "Verdict",
    "benchmark",
    "budget_verdict",
    "course_model_onnx",
    "default_engines",
    "export_course_model",
    "figure_png",
    "get_engine",
    "harness_overhead_us",
    "latency_stats",
    "load_target",
    "machine_load",
    "main",
    "measure",
    "measure_peak_gflops",
    "ort_session_options",
    "plot_latencies",
    "register_engine",
    "row_problems",
    "speed_verdict",
]

Needs = Literal["onnx", "torch", "keras"]
#: Course models the CLI and :func:`load_target` know by name.
COURSE_MODELS: tuple[str, ...] = ("digits_cnn", "resnet18", "keras_cnn", "efficientnet_lite0")
LEVELS: dict[str, str] = {
    "disable": "ORT_DISABLE_ALL",
    "basic": "ORT_ENABLE_BASIC",
    "extended": "ORT_ENABLE_EXTENDED",
    "layout": "ORT_ENABLE_LAYOUT",
    "all": "ORT_ENABLE_ALL",
}


class UnknownEngineError(CourseError, KeyError):
    """An engine name that is not registered."""

    def __str__(self) -> str:  # KeyError would print the message in quotes
        return str(self.args[0])


class UnknownModelError(CourseError, ValueError):
    """A model argument that is neither an .onnx file nor a course model name."""


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


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default), on already sorted values."""
    if not sorted_values:
        return math.nan
    position = (len(sorted_values) - 1) * q / 100.0
    low = math.floor(position)
    high = min(low + 1, len(sorted_values) - 1)
    return sorted_values[low] + (sorted_values[high] - sorted_values[low]) * (position - low)


def latency_stats(samples_ms: Iterable[float]) -> LatencyStats:
    """Percentiles (p50 = median, p90, p99), mean, minimum and interquartile range of ``samples_ms``.

    The median, not the mean, is the headline number: a shared machine adds rare long pauses that drag the mean
    up; p90/p99 show how long the slow runs are. Raises ``ValueError`` for no samples.
    """
    values = sorted(float(v) for v in samples_ms)
    if not values:
        raise ValueError("latency_stats needs at least one sample: the benchmark ran zero times")
    return LatencyStats(
        runs=len(values),
        p50_ms=_percentile(values, 50),
        p90_ms=_percentile(values, 90),
        p99_ms=_percentile(values, 99),
        mean_ms=statistics.fmean(values),
        min_ms=values[0],
        iqr_ms=_percentile(values, 75) - _percentile(values, 25),
    )


# ------------------------------------------------------------------------------------------- the harness

#: ``on_progress(samples_ms_so_far, fraction_done)``: called during timing, at most every ``progress_every_s``.
ProgressCallback = Callable[[Sequence[float], float], None]


@dataclass(frozen=True)
class Timings:
    """What :func:`measure` did: the timed samples (ms), how many warm-up runs, and the time spent on each phase."""

    samples_ms: tuple[float, ...]
    warmup_runs: int
    warmup_s: float
    timed_s: float

    @property
    def stats(self) -> LatencyStats:
        """:func:`latency_stats` of the timed samples."""
        return latency_stats(self.samples_ms)


def measure(
    run: Callable[[], object],
    *,
    budget_s: float = 1.0,
    warmup_runs: int = 3,
    warmup_s: float = 0.1,
    min_runs: int = 5,
    max_runs: int = 100_000,
    on_progress: ProgressCallback | None = None,
    progress_every_s: float = 0.1,
) -> Timings:
    """Time ``run()`` properly: warm up, then repeat until ``budget_s`` is spent.

    * Warm-up: at least ``warmup_runs`` calls and until ``warmup_s`` has passed, never timed. First calls
      allocate memory, pick kernels and fill caches (ORT#10676); timing them measures set-up, not inference.
      (When warm-up alone has used the whole budget, one warm-up call is enough.)
    * Timed runs: each call timed on its own with ``time.perf_counter_ns`` (so percentiles exist), until the
      budget is spent, with at least ``min_runs`` and at most ``max_runs``. A slow model gets few runs, a fast
      one many: the budget, not a fixed count, bounds the time a benchmark takes. On a very slow run (or a
      machine so busy that ``min_runs`` would take more than 3x the budget) it stops at 3x the budget with
      fewer runs, so a benchmark never blocks much longer than asked.
    * ``on_progress(samples, fraction)`` is called at most every ``progress_every_s`` (and once at the end),
      outside the timed region: a live plot never slows the runs it shows.
    """
    if budget_s <= 0 or min_runs < 1 or max_runs < min_runs:
        raise ValueError("measure needs budget_s > 0 and 1 <= min_runs <= max_runs")
    clock = time.perf_counter_ns
    start = clock()
    warm = 0
    warm_deadline = start + int(warmup_s * 1e9)
    budget_ns = int(budget_s * 1e9)
    while True:
        run()
        warm += 1
        now = clock()
        if (warm >= warmup_runs and now >= warm_deadline) or now - start >= budget_ns:
            break
    timed_start = clock()
    deadline = timed_start + budget_ns
    hard_deadline = timed_start + 3 * budget_ns
    next_report = timed_start + int(progress_every_s * 1e9)
    samples: list[float] = []
    append = samples.append
    n = 0
    while n < max_runs:
        t0 = clock()
        run()
        t1 = clock()
        append((t1 - t0) / 1e6)
        n += 1
        if (t1 >= deadline and n >= min_runs) or t1 >= hard_deadline:
            break
        if on_progress is not None and t1 >= next_report:
            on_progress(samples, min(1.0, (t1 - timed_start) / (deadline - timed_start)))
            next_report = clock() + int(progress_every_s * 1e9)
    end = clock()
    if on_progress is not None:
        on_progress(samples, 1.0)
    return Timings(tuple(samples), warm, (timed_start - start) / 1e9, (end - timed_start) / 1e9)


def _identity_run() -> Callable[[], object]:
    """``session.run`` of a one-node ``Identity`` model on 16 floats: the cheapest real inference there is."""
    import onnx
    import onnxruntime as ort

    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16])],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    feed = {"x": np.zeros((1, 16), dtype=np.float32)}
    return lambda: session.run(None, feed)


def harness_overhead_us(runs: int = 30_000, run: Callable[[], object] | None = None, rounds: int = 15) -> float:
    """The harness's own cost per timed run, in microseconds: :func:`measure` over ``run`` (default: an
    ``Identity`` model's ``session.run``) minus a bare loop over the same call, per call. Print it: it is what
    each sample over-states a latency by.

    Both loops run ``rounds`` times, interleaved, ``runs / rounds`` calls each; the fastest round of each is
    compared, so a pause caused by another program does not count as overhead. Timer noise can make it 0."""
    call = run or _identity_run()
    per_round = max(1, runs // rounds)

    def bare() -> float:
        t0 = time.perf_counter_ns()
        for _ in range(per_round):
            call()
        return (time.perf_counter_ns() - t0) / per_round

    def harnessed() -> float:
        timings = measure(call, budget_s=60.0, warmup_runs=1, warmup_s=0.0, min_runs=per_round, max_runs=per_round)
        return timings.timed_s * 1e9 / per_round

    bare()  # warm-up
    bare_ns, harness_ns = [], []
    for _ in range(rounds):
        bare_ns.append(bare())
        harness_ns.append(harnessed())
    return max(0.0, (min(harness_ns) - min(bare_ns)) / 1e3)


def _best_matmul_gflops(n: int, threads: int, budget_s: float) -> float:
    """GFLOP/s of the fastest ``n x n @ n x n`` product (2n^3 FLOPs) on ``threads`` threads within ``budget_s``."""
    a = np.random.default_rng(0).standard_normal((n, n)).astype(np.float32)
    b = np.random.default_rng(1).standard_normal((n, n)).astype(np.float32)
    try:
        import torch
    except ImportError:  # numpy's BLAS picks its own thread count
        timings = measure(lambda: a @ b, budget_s=budget_s, warmup_runs=2, min_runs=3)
    else:
        ta, tb = torch.from_numpy(a), torch.from_numpy(b)
        with _torch_threads(threads):
            timings = measure(lambda: torch.mm(ta, tb), budget_s=budget_s, warmup_runs=2, min_runs=3)
    return 2.0 * n**3 / (timings.stats.min_ms / 1e3) / 1e9


def measure_peak_gflops(threads: int = 1, *, n: int = 512, budget_s: float = 0.5) -> float:
    """This CPU's measured fp32 peak for ``threads`` cores, in GFLOP/s, from matrix products (PyTorch's matmul,
    oneDNN/MKL, the fastest GEMM installed; numpy's without torch).

    * Per-core peak: the fastest ``n x n`` product on one thread. ``n=512`` stays in cache and takes about a
      millisecond, so among hundreds of runs some are never interrupted by another program; the best run, not
      the median, because peak means what the hardware can do at all.
    * For ``threads > 1``: the larger of ``threads x`` the per-core peak (the floating-point units are per core)
      and a direct measurement on ``threads`` threads (``2n``). On a quiet machine they agree; on a busy one
      the direct measurement waits for descheduled threads and says more about the other programs than the CPU.
    """
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    per_core = _best_matmul_gflops(n, 1, budget_s)
    if threads == 1:
        return per_core
    return max(threads * per_core, _best_matmul_gflops(2 * n, threads, budget_s))


class _torch_threads:
    """Set torch's intra-op thread count for a block, then restore it."""

    def __init__(self, threads: int | None) -> None:
        self.threads = threads
        self.before = 0

    def __enter__(self) -> None:
        import torch

        self.before = torch.get_num_threads()
        if self.threads:
            torch.set_num_threads(self.threads)

    def __exit__(self, *exc: object) -> None:
        import torch

        torch.set_num_threads(self.before)


# ------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class BenchTarget:
    """A model ready to benchmark at one batch size.

    ``onnx_path``: the ONNX file every ONNX engine loads; ``feed``: ``{input name: array}`` at ``batch``;
    ``framework``: the source model (a torch ``nn.Module`` or a Keras model) or ``None``; ``framework_input``:
    the array the framework model takes (NHWC for Keras); ``flops``: FLOPs of one run at ``batch``.
    """

    name: str
    onnx_path: Path
    feed: Mapping[str, np.ndarray]
    batch: int
    flops: int
    framework: Any = None
    framework_kind: Needs = "onnx"
    framework_input: np.ndarray | None = None

    def has(self, needs: Needs) -> bool:
        """Whether this target can feed an engine that ``needs`` an ONNX file, a torch or a Keras model."""
        return needs == "onnx" or self.framework_kind == needs


def _artifact(name: str) -> Path:
    from .paths import artifact_path

    return artifact_path(name, lesson="06")


def _export_torch(module: Any, example: Any, path: Path) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Legacy exporter without constant folding: BatchNormalization stays in the graph, as a trained model
        # straight from a framework has it, so the optimization levels have something to fold.
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            do_constant_folding=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        )


def export_course_model(name: str, path: Path) -> Path:
    """Write course model ``name`` (one of :data:`COURSE_MODELS`) to ``path`` as ONNX, batch dynamic, and return
    ``path``: the PyTorch models with the legacy exporter (BatchNormalization kept, PyTorch's weight names), the
    Keras CNN with tf2onnx; ``efficientnet_lite0`` (ImageNet-pretrained, lesson 07) with
    :func:`course_utils.efficientnet.export_onnx` (batch norm already folded, TensorFlow-style padding inside the
    ``Conv``). The one export every lesson's tools share (bench, the provider switcher, the tests)."""
    if name == "digits_cnn":
        import torch

        from .data import load_digits_cnn

        _export_torch(load_digits_cnn(), torch.zeros(1, 1, 8, 8), path)
    elif name == "resnet18":
        import torch

        from .models import resnet18

        _export_torch(resnet18(), torch.zeros(1, 3, 224, 224), path)
    elif name == "keras_cnn":
        _convert_keras(path)
    elif name == "efficientnet_lite0":
        from .efficientnet import export_onnx

        export_onnx(path)
    else:
        raise UnknownModelError(f"'{name}' is not a course model; use one of {', '.join(COURSE_MODELS)}")
    return path


def course_model_onnx(name: str) -> Path:
    """Export (once) a course model to ``artifacts/06/<name>.onnx`` with a dynamic batch, and return its path."""
    path = _artifact(f"{name}.onnx")
    if path.exists():
        return path
    return export_course_model(name, path)


def _convert_keras(path: Path) -> None:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx

    from .data import load_digits_keras

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # converter progress chatter, not errors
    model = load_digits_keras()
    spec = (tf.TensorSpec((None, 8, 8, 1), tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def serve(image: Any) -> Any:
        return {"probabilities": model(image, training=False)}

    tf2onnx.convert.from_function(serve, input_signature=spec, opset=17, output_path=str(path))


def _concrete_feed(onnx_path: Path, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input, symbolic dimensions set to ``batch`` (first) or 1 (others)."""
    import onnx

    from .modelio import load_model

    model = load_model(onnx_path, load_external_data=False)  # one-line errors for a broken file
    initializers = {t.name for t in model.graph.initializer}
    rng = np.random.default_rng(seed)
    feed: dict[str, np.ndarray] = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dims = [
            d.dim_value if d.HasField("dim_value") else (batch if i == 0 else 1) for i, d in enumerate(tensor.shape.dim)
        ]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        if np.issubdtype(dtype, np.floating):
            feed[value.name] = rng.random(dims, dtype=np.float32).astype(dtype)
        else:
            feed[value.name] = np.zeros(dims, dtype=dtype)
    return feed


def load_target(model: str | os.PathLike[str], batch: int = 1) -> BenchTarget:
    """A :class:`BenchTarget` for an ``.onnx`` path or a course model name (``digits_cnn``, ``resnet18``,
    ``keras_cnn``, ``efficientnet_lite0``; exported once to ``artifacts/06/``, with the framework model for the
    baselines).

    Raises :class:`UnknownModelError` for anything else, with the names that work.
    """
    from .flops import count_flops

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    name = str(model)
    framework: Any = None
    kind: Needs = "onnx"
    if name in COURSE_MODELS:
        path = course_model_onnx(name)
        if name == "digits_cnn":
            from .data import load_digits_cnn

            framework, kind = load_digits_cnn(), "torch"
        elif name == "resnet18":
            from .models import resnet18

            framework, kind = resnet18(), "torch"
        elif name == "efficientnet_lite0":
            from .efficientnet import load_efficientnet_lite0

            framework, kind = load_efficientnet_lite0(), "torch"
        else:
            from .data import load_digits_keras

            framework, kind = load_digits_keras(), "keras"
    else:
        path = Path(name)
        if path.suffix != ".onnx" or not path.is_file():
            what = "does not exist" if not path.exists() else "is not an .onnx file"
            raise UnknownModelError(
                f"'{name}' {what}. Pass the path of an .onnx file or a course model name: {', '.join(COURSE_MODELS)}."
            )
        name = path.stem
    feed = _concrete_feed(path, batch)
    # The course models' ONNX inputs match their frameworks' (NCHW for torch, NHWC for Keras): one array for both.
    framework_input = next(iter(feed.values())) if kind != "onnx" else None
    flops = count_flops(path, batch=batch).total
    return BenchTarget(name, path, feed, batch, flops, framework, kind, framework_input)


# ------------------------------------------------------------------------------------------- engines


@dataclass(frozen=True)
class Prepared:
    """What an engine factory may return instead of a bare callable: the run, extra row columns, a clean-up."""

    run: Callable[[], object]
    extra: Mapping[str, float | int | str] = field(default_factory=dict)
    close: Callable[[], None] | None = None


EngineFactory = Callable[[BenchTarget, int], "Callable[[], object] | Prepared"]


@dataclass(frozen=True)
class Engine:
    """A registered engine: ``name``, its ``factory(target, threads)``, what the target must provide."""

    name: str
    factory: EngineFactory
    description: str = ""
    needs: Needs = "onnx"


ENGINES: dict[str, Engine] = {}


def register_engine(
    name: str, factory: EngineFactory, *, description: str = "", needs: Needs = "onnx", replace: bool = False
) -> Engine:
    """Register an engine under ``name`` (see the module docstring); returns it. Re-registering a name needs
    ``replace=True`` (so two lessons cannot silently overwrite each other's engines)."""
    if needs not in ("onnx", "torch", "keras"):
        raise ValueError(f"needs must be 'onnx', 'torch' or 'keras', got {needs!r}")
    if name in ENGINES and not replace:
        raise ValueError(f"an engine named '{name}' is already registered; pass replace=True to replace it")
    engine = Engine(name, factory, description, needs)
    ENGINES[name] = engine
    return engine


def get_engine(name: str) -> Engine:
    """The registered engine ``name``; :class:`UnknownEngineError` lists the registered ones otherwise."""
    try:
        return ENGINES[name]
    except KeyError:
        raise UnknownEngineError(f"No engine named '{name}'. Registered: {', '.join(ENGINES)}.") from None


def ort_session_options(level: str = "all", threads: int = 1) -> Any:
    """``onnxruntime.SessionOptions`` at a graph optimization level (``"disable"`` ... ``"all"``) and thread count."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, LEVELS[level])
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.log_severity_level = 3  # the "hardware-specific model" warning belongs to saving, not timing
    return options


def _ort_factory(level: str) -> EngineFactory:
    def make(target: BenchTarget, threads: int) -> Prepared:
        import onnxruntime as ort

        session = ort.InferenceSession(
            str(target.onnx_path), sess_options=ort_session_options(level, threads), providers=["CPUExecutionProvider"]
        )
        feed = dict(target.feed)
        return Prepared(lambda: session.run(None, feed))

    return make


def _torch_eager(target: BenchTarget, threads: int) -> Prepared:
    import torch

    module = target.framework.eval()
    x = torch.from_numpy(np.ascontiguousarray(target.framework_input))
    guard = _torch_threads(threads)
    guard.__enter__()

    def run() -> object:
        with torch.inference_mode():
            return module(x)

    return Prepared(run, close=lambda: guard.__exit__(None, None, None))


def _tf_function(target: BenchTarget, threads: int) -> Prepared:
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf

    try:  # only possible before TensorFlow starts its thread pools; later calls keep the first setting
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(1)
    except RuntimeError:
        pass
    model = target.framework
    x = tf.constant(target.framework_input)

    @tf.function
    def serve(image: Any) -> Any:
        return model(image, training=False)

    return Prepared(lambda: serve(x).numpy())


def _onnx_reference(target: BenchTarget, threads: int) -> Prepared:
    from onnx.reference import ReferenceEvaluator

    evaluator = ReferenceEvaluator(str(target.onnx_path))
    feed = dict(target.feed)
    return Prepared(lambda: evaluator.run(None, feed))


for _level in ("all", "layout", "extended", "basic", "disable"):
    register_engine(
        f"ort-{_level}", _ort_factory(_level), description=f"ONNX Runtime, CPU, {LEVELS[_level]}", needs="onnx"
    )
register_engine("torch-eager", _torch_eager, description="PyTorch eager, inference_mode", needs="torch")
register_engine("tf-function", _tf_function, description="Keras model in a tf.function", needs="keras")
register_engine(
    "onnx-reference", _onnx_reference, description="onnx.reference.ReferenceEvaluator (numpy)", needs="onnx"
)


def default_engines(target: BenchTarget) -> list[str]:
    """The lesson's comparison for a target: its framework baseline (if any), ORT without and with optimizations."""
    baseline = {"torch": ["torch-eager"], "keras": ["tf-function"], "onnx": []}[target.framework_kind]
    return [*baseline, "ort-disable", "ort-all"]


# ------------------------------------------------------------------------------------------- rows and reports

_STANDARD = ("engine", "model", "batch", "threads", "p50_ms", "p90_ms", "p99_ms", "runs", "gflops_per_s", "pct_of_peak")


@dataclass(frozen=True)
class BenchRow:
    """One engine on one model: latency percentiles (ms), runs timed, achieved GFLOP/s and % of measured peak
    (``None`` when no peak was given), and any ``extra`` columns the engine reported."""

    engine: str
    model: str
    batch: int
    threads: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    runs: int
    gflops_per_s: float
    pct_of_peak: float | None
    extra: Mapping[str, float | int | str] = field(default_factory=dict)
    samples_ms: tuple[float, ...] = field(default=(), repr=False, compare=False)

    @property
    def throughput_per_s(self) -> float:
        """Inputs per second at the median latency: ``batch / p50``."""
        return self.batch / (self.p50_ms / 1e3)

    def as_dict(self) -> dict[str, Any]:
        """The JSON form: the standard columns, then the extra ones (samples left out)."""
        data = {key: getattr(self, key) for key in _STANDARD}
        data.update(self.extra)
        return data


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:.3f}" if abs(value) < 10 else f"{value:.1f}"
    return str(value)


@dataclass(frozen=True)
class BenchReport:
    """Rows of one benchmark, the peak they are compared with, notes (engines skipped, and why) and the
    machine's load per core when it ended (:func:`machine_load`; ``None`` where the OS does not report it)."""

    rows: tuple[BenchRow, ...]
    peak_gflops: float | None = None
    notes: tuple[str, ...] = ()
    load_per_core: float | None = None

    def row(self, engine: str, model: str | None = None) -> BenchRow:
        """The row of ``engine`` (on ``model`` when several models were run)."""
        for r in self.rows:
            if r.engine == engine and (model is None or r.model == model):
                return r
        raise KeyError(f"no row for engine '{engine}'" + (f" on '{model}'" if model else ""))

    def speedup(self, engine: str, baseline: str, model: str | None = None) -> float:
        """How many times faster ``engine`` is than ``baseline`` (ratio of medians)."""
        return self.row(baseline, model).p50_ms / self.row(engine, model).p50_ms

    def verdict(self, engine: str, baseline: str, model: str | None = None, **checks: Any) -> Verdict:
        """:func:`speed_verdict` of two rows of this report, with the load the report recorded."""
        return speed_verdict(
            self.row(engine, model), self.row(baseline, model), load_per_core=self.load_per_core, **checks
        )

    def budget_verdict(self, engine: str, budget_ms: float, model: str | None = None, **checks: Any) -> Verdict:
        """:func:`budget_verdict` of one row of this report, with the load the report recorded."""
        return budget_verdict(self.row(engine, model), budget_ms, load_per_core=self.load_per_core, **checks)

    def problems(self, **checks: Any) -> tuple[str, ...]:
        """Why this report's numbers may not be trusted (every row's :func:`row_problems`, and a busy machine);
        empty when none."""
        return _problems(self.rows, self.load_per_core, **checks)

    def _columns(self) -> list[str]:
        extra: list[str] = []
        for r in self.rows:
            extra += [k for k in r.extra if k not in extra]
        return [*_STANDARD, *extra]

    def _rows(self) -> list[list[str]]:
        """The table's cells, header first: the one source of :meth:`__str__` and :meth:`_repr_html_`."""
        columns = self._columns()
        table = [columns]
        for r in self.rows:
            data = r.as_dict()
            table.append([_fmt(data.get(c)) for c in columns])
        return table

    def __str__(self) -> str:
        header, *rows = self._rows()
        lines = text_table(rows, header, rule=True)
        if self.peak_gflops:
            lines.append(f"measured peak: {self.peak_gflops:.1f} GFLOP/s fp32")
        if self.load_per_core is not None:
            lines.append(f"machine load: {self.load_per_core:.2f} per core (1-minute average)")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, *rows = self._rows()
        foot = f"<p>measured peak: {self.peak_gflops:.1f} GFLOP/s fp32</p>" if self.peak_gflops else ""
        if self.load_per_core is not None:
            foot += f"<p>machine load: {self.load_per_core:.2f} per core (1-minute average)</p>"
        foot += "".join(f"<p>note: {html.escape(n)}</p>" for n in self.notes)
        return html_table(rows, header) + foot

    def to_dict(self) -> dict[str, Any]:
        """``{"peak_gflops", "rows": [row.as_dict(), ...], "notes", "load_per_core"}``: what :meth:`to_json`
        writes."""
        return {
            "peak_gflops": self.peak_gflops,
            "rows": [r.as_dict() for r in self.rows],
            "notes": list(self.notes),
            "load_per_core": self.load_per_core,
        }

    def to_json(self, path: str | os.PathLike[str] | None = None) -> str:
        """The report as JSON (:meth:`to_dict`); written to ``path`` when given."""
        text = json.dumps(self.to_dict(), indent=2)
        if path is not None:
            Path(path).write_text(text + "\n", encoding="utf-8")
        return text


#: ``on_event(engine, samples_ms_so_far, fraction_of_this_engine, engine_index, engine_count)``
BenchProgress = Callable[[str, Sequence[float], float, int, int], None]


def _forward_progress(
    callback: BenchProgress, engine: str, index: int, count: int, samples: Sequence[float], fraction: float
) -> None:
    callback(engine, samples, fraction, index, count)


def benchmark(
    targets: BenchTarget | Sequence[BenchTarget],
    engines: Sequence[str] | None = None,
    *,
    threads: int = 1,
    budget_s: float = 1.0,
    peak_gflops: float | None = None,
    on_progress: BenchProgress | None = None,
    **measure_options: Any,
) -> BenchReport:
    """Run each engine on each target with :func:`measure` and return a :class:`BenchReport`.

    ``engines`` default to :func:`default_engines` per target; an engine a target cannot run (``torch-eager``
    on an ONNX file) is skipped with a note. Each engine's session is built before timing starts and released
    after it. ``peak_gflops`` (from :func:`measure_peak_gflops`) fills ``pct_of_peak``.
    """
    target_list = [targets] if isinstance(targets, BenchTarget) else list(targets)
    if threads < 1:
        raise ValueError(f"threads must be at least 1, got {threads}")
    for name in engines or []:
        get_engine(name)  # unknown names fail before anything runs
    plan = [(t, e) for t in target_list for e in (engines or default_engines(t))]
    rows: list[BenchRow] = []
    notes: list[str] = []
    for index, (target, name) in enumerate(plan):
        engine = get_engine(name)
        if not target.has(engine.needs):
            notes.append(f"{name} skipped on {target.name}: it needs a {engine.needs} model, the target is ONNX only")
            continue
        prepared = engine.factory(target, threads)
        if not isinstance(prepared, Prepared):
            prepared = Prepared(prepared)
        progress = None
        if on_progress is not None:
            progress = functools.partial(_forward_progress, on_progress, name, index, len(plan))
        try:
            timings = measure(prepared.run, budget_s=budget_s, on_progress=progress, **measure_options)
        finally:
            if prepared.close is not None:
                prepared.close()
            extra = dict(prepared.extra)
            del prepared
            gc.collect()  # the session and its thread pool go now, not while the next engine runs
        stats = timings.stats
        gflops = target.flops / (stats.p50_ms / 1e3) / 1e9 if stats.p50_ms > 0 else math.nan
        rows.append(
            BenchRow(
                name,
                target.name,
                target.batch,
                threads,
                round(stats.p50_ms, 4),
                round(stats.p90_ms, 4),
                round(stats.p99_ms, 4),
                stats.runs,
                round(gflops, 2),
                None if not peak_gflops else round(100 * gflops / peak_gflops, 1),
                extra,
                timings.samples_ms,
            )
        )
    load = machine_load()
    return BenchReport(
        tuple(rows),
        None if peak_gflops is None else round(peak_gflops, 1),
        tuple(notes),
        None if load is None else round(load, 2),
    )


# ------------------------------------------------------------------------------------------- verdicts

#: Fewer timed runs than this and the percentiles rest on a handful of samples.
MIN_RUNS = 20
#: p90/p50 above this: the slow runs are much slower than the typical one; something else shared the CPU.
MAX_SPREAD = 1.5
#: 1-minute load average per core above this: more runnable threads than cores. A benchmark using every core
#: contributes at most 1.0 itself, so this leaves room for it and flags real competition.
MAX_LOAD_PER_CORE = 1.25
#: Two medians closer than this (as a ratio) are "about the same": run-to-run variation on a quiet machine.
SAME_WITHIN = 0.10


def machine_load() -> float | None:
    """The 1-minute load average divided by the number of cores (``os.getloadavg``), or ``None`` where the OS
    has no load average (Windows). Above about 1 per core, threads queue for a core and timings stretch."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):
        return None
    return load / (os.cpu_count() or 1)


def row_problems(row: BenchRow, *, min_runs: int = MIN_RUNS, max_spread: float = MAX_SPREAD) -> tuple[str, ...]:
    """Why one row's numbers are not to be trusted: too few timed runs, or a p90/p50 spread above
    ``max_spread``. Empty when neither."""
    problems = []
    if row.runs < min_runs:
        problems.append(f"{row.engine}: {row.runs} runs, fewer than {min_runs}")
    spread = row.p90_ms / row.p50_ms if row.p50_ms > 0 else math.inf
    if spread > max_spread:
        problems.append(f"{row.engine}: spread p90/p50 {spread:.2f}, above {max_spread}")
    return tuple(problems)


def _problems(
    rows: Iterable[BenchRow],
    load_per_core: float | None,
    *,
    min_runs: int = MIN_RUNS,
    max_spread: float = MAX_SPREAD,
    max_load_per_core: float = MAX_LOAD_PER_CORE,
) -> tuple[str, ...]:
    problems = [p for row in rows for p in row_problems(row, min_runs=min_runs, max_spread=max_spread)]
    if load_per_core is not None and load_per_core > max_load_per_core:
        problems.append(f"machine load {load_per_core:.2f} per core, above {max_load_per_core}: the CPU is busy")
    return tuple(problems)


@dataclass(frozen=True)
class Verdict:
    """What measured rows allow you to say. ``measured``: the numbers the conclusion rests on;
    ``conclusion``: ``"faster"``, ``"slower"``, ``"about the same"``, ``"meets"``, ``"misses"``, or ``"noisy"``
    (then ``problems`` says why, and ``claim`` is empty: no conclusion is drawn); ``ratio``: baseline p50 /
    engine p50 for a speed verdict, p99 / budget for a budget verdict."""

    measured: str
    conclusion: str
    claim: str
    ratio: float
    problems: tuple[str, ...] = ()

    @property
    def trusted(self) -> bool:
        """Whether the rows were good enough to conclude anything."""
        return not self.problems

    def __str__(self) -> str:
        if self.problems:
            return f"{self.measured}\nnoisy: rerun on an idle machine ({'; '.join(self.problems)})"
        return f"{self.measured}\nverdict: {self.claim}"

    def __repr__(self) -> str:
        return str(self)


def _describe(row: BenchRow) -> str:
    spread = row.p90_ms / row.p50_ms if row.p50_ms > 0 else math.nan
    return f"{row.engine} p50 {row.p50_ms:.4g} ms ({row.runs} runs, spread {spread:.2f})"


def speed_verdict(
    row: BenchRow,
    baseline: BenchRow,
    *,
    load_per_core: float | None = None,
    same_within: float = SAME_WITHIN,
    **checks: Any,
) -> Verdict:
    """Is ``row``'s engine faster than ``baseline``'s, from their medians, and may we say so?

    Noisy (no conclusion) when either row has too few runs or too wide a spread, or the machine was busy
    (``load_per_core`` above ``max_load_per_core``); ``checks`` override ``min_runs``, ``max_spread`` and
    ``max_load_per_core``. Otherwise: faster or slower by the ratio of medians, or about the same when the
    medians are within ``same_within`` of each other.
    """
    ratio = baseline.p50_ms / row.p50_ms if row.p50_ms > 0 else math.nan
    measured = f"{row.model}: {_describe(row)} vs {_describe(baseline)}"
    problems = _problems((row, baseline), load_per_core, **checks)
    if problems:
        return Verdict(measured, "noisy", "", ratio, problems)
    if 1 / (1 + same_within) <= ratio <= 1 + same_within:
        conclusion, claim = "about the same", f"{row.engine} and {baseline.engine} are about as fast ({ratio:.2f}x)"
    elif ratio > 1:
        conclusion, claim = "faster", f"{row.engine} is {ratio:.2f}x faster than {baseline.engine}"
    else:
        conclusion, claim = "slower", f"{row.engine} is {1 / ratio:.2f}x slower than {baseline.engine}"
    return Verdict(measured, conclusion, claim, ratio)


def budget_verdict(row: BenchRow, budget_ms: float, *, load_per_core: float | None = None, **checks: Any) -> Verdict:
    """Does ``row``'s p99 latency fit in ``budget_ms`` (e.g. 1000/30 ms per frame at 30 fps)?

    The p99, not the median: a median under budget still leaves half the frames late; a p99 under budget leaves
    at most one in a hundred. Noisy rows (see :func:`speed_verdict`) give no conclusion. With fewer than 100
    runs the p99 is close to the slowest run, a pessimistic estimate; the measured line says so.
    """
    if budget_ms <= 0:
        raise ValueError(f"budget_ms must be positive, got {budget_ms}")
    ratio = row.p99_ms / budget_ms
    measured = f"{row.model}: {row.engine} p99 {row.p99_ms:.4g} ms, p50 {row.p50_ms:.4g} ms ({row.runs} runs)"
    measured += f" vs a budget of {budget_ms:.4g} ms"
    if row.runs < 100:
        measured += f" (p99 of {row.runs} runs is close to the slowest run)"
    problems = _problems((row,), load_per_core, **checks)
    if problems:
        return Verdict(measured, "noisy", "", ratio, problems)
    if row.p99_ms <= budget_ms:
        claim = f"{row.engine} meets the budget: at most 1 run in 100 is over it (p99 at {ratio:.0%} of it)"
        return Verdict(measured, "meets", claim, ratio)
    late = "at least half of the runs are" if row.p50_ms > budget_ms else "more than 1 run in 100 is"
    claim = f"{row.engine} misses the budget: {late} over it (p99 at {ratio:.0%} of it)"
    return Verdict(measured, "misses", claim, ratio)


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


# ------------------------------------------------------------------------------------------- command line


def _stderr_progress(engine: str, samples: Sequence[float], fraction: float, index: int, count: int) -> None:
    if fraction < 1.0 and not sys.stderr.isatty():
        return  # a log file (CI) gets one line per engine, not ten updates a second
    median = statistics.median(samples) if samples else math.nan
    sys.stderr.write(
        f"\r[{index + 1}/{count}] {engine:<14} {fraction:>4.0%}  runs {len(samples):>6}  p50 {median:8.3f} ms"
    )
    if fraction >= 1.0:
        sys.stderr.write("\n")
    sys.stderr.flush()


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.bench``: benchmark models, print the table, optionally write JSON."""
    from .quantize import register_bench_engines

    register_bench_engines(
        sys.modules[__name__]
    )  # lesson 07's int8 engines (ort-int8-dynamic, ort-int8-static, ort-int8-qdq-u8, ort-int8-qdq-u8-fc32); their
    # rows add top1_agreement, top1_agreement_confident, top5_contains, sqnr_db and n (course_utils.agreement)
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.bench",
        description="Benchmark ONNX models with ONNX Runtime (and the framework baselines of the course models).",
    )
    parser.add_argument(
        "models", nargs="+", metavar="MODEL", help=f"an .onnx path or one of {', '.join(COURSE_MODELS)}"
    )
    parser.add_argument(
        "--engines",
        nargs="+",
        help=f"engines to run (default: baseline, ort-disable, ort-all); known: {', '.join(ENGINES)}",
    )
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for every engine (default 1)")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of timed runs per engine (default 2)")
    parser.add_argument("--no-peak", action="store_true", help="skip measuring the CPU's peak GFLOP/s")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    args = parser.parse_args(argv)
    try:
        for name in args.engines or []:
            get_engine(name)
        targets = []
        for model in args.models:
            sys.stderr.write(f"loading {model} ...\n")
            targets.append(load_target(model, batch=args.batch))
        peak = None
        if not args.no_peak:
            sys.stderr.write("measuring peak fp32 GFLOP/s ...\n")
            peak = measure_peak_gflops(threads=args.threads)
        sys.stderr.write("measuring the harness's own overhead ...\n")
        overhead = harness_overhead_us(runs=5_000)
        report = benchmark(
            targets,
            args.engines,
            threads=args.threads,
            budget_s=args.budget,
            peak_gflops=peak,
            on_progress=_stderr_progress,
        )
    except (CourseError, ValueError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    print(report)
    print(f"harness overhead: {overhead:.2f} µs per timed run (measured on an Identity model)")
    problems = report.problems()
    if problems:  # the table is what was measured; comparing its rows needs a quieter run
        print(f"noisy: rerun on an idle machine ({'; '.join(problems)})")
    if args.json:
        report.to_json(args.json)
        sys.stderr.write(f"wrote {args.json}\n")
    return 0


if __name__ == "__main__":
    # `python -m course_utils.bench` runs this file as __main__, a second copy of the module. Run the imported
    # module's main instead, so engines that other modules register (lesson 07's) are in the registry it reads.
    from course_utils.bench import main as _main

    raise SystemExit(_main())
