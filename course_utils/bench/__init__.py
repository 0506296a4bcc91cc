"""Benchmarks done right: warm-up, an adaptive number of runs within a time budget, percentiles, and rows that
say how close each engine comes to this CPU's limit.

The calls a learner already knows (``ort.InferenceSession``, ``session.run``, ``time.perf_counter``), plus:

* :func:`measure` times any zero-argument callable: warm-up first (never timed), then runs until a time budget
  is spent (at least ``min_runs``, at most ``max_runs``), with an optional progress callback for live plots;
* :func:`latency_stats` turns samples into :class:`LatencyStats` (p50/p90/p99, mean, IQR, spread);
* :func:`benchmark` runs named *engines* on a *target* (a model at a batch size) and returns a
  :class:`BenchReport` of :class:`BenchRow` s, rendered as a text or HTML table (one ``_rows()`` source) and
  exported with :meth:`BenchReport.to_json`;
* :func:`measure_peak` (a :class:`Peak`) and :func:`measure_peak_gflops` (its value) measure this CPU's fp32 (or
  int8) peak: the best large matrix product of every installed GEMM on the rows' thread count (or one thread's
  best times the physical cores they may use, when larger), cached in ``artifacts/bench/peak.json``; :func:`harness_overhead_us` the harness's own cost per timed run;
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
course models ``digits_cnn``, ``resnet18`` and ``efficientnet_lite0``, see :mod:`course_utils.models.registry`) or ``"keras"`` (``keras_cnn``); :func:`benchmark` skips an
engine a target cannot run and says so. Extra columns appear in the table after the standard ones and in the
JSON rows under their own names (``"top1_agreement": 0.98``). ``flops_from="onnx"`` (default) counts the FLOPs of
``target.onnx_path``; an engine that runs a different graph (a quantized one) still does the same arithmetic
work per image, so GFLOP/s stay comparable across engines.

Built-in engines: ``ort-all``, ``ort-layout``, ``ort-extended``, ``ort-basic``, ``ort-disable`` (ONNX Runtime at
each graph optimization level, CPU provider), ``torch-eager`` (the PyTorch module, ``torch.inference_mode``),
``tf-function`` (the Keras model called inside a ``tf.function``), ``onnx-reference`` (onnx's reference
evaluator: correct, slow, not a runtime).

A target's engines are built before timing and take turns: ``rounds`` rotating rounds of ``budget_s / rounds``
each (A B C, B C A, ...), so a machine that slows down for a while slows every engine alike; each later round
starts with a brief warm-up. They are released when the target's rounds end. An engine registered with
``precision="int8"`` is compared with an int8 peak (``int8_peak_gops``), never the fp32 one. Reports carry an
``environment`` block (settings; CPU model, usable CPUs, library versions: :mod:`course_utils.machine`). Speed
is measured and printed, never asserted.

Modules, by concern: ``stats`` (latency statistics), ``harness`` (:func:`measure`, the harness's overhead),
``peak`` (this CPU's matmul peak), ``targets`` (what to benchmark: files and course models), ``engines`` (the
engine registry and the built-in engines), ``report`` (:func:`benchmark`, rows, reports, verdicts), ``plots``,
``cli`` (``python -m course_utils.bench``). This package re-exports their public names; the live view is
:mod:`course_utils.views.bench_view`. ``shapes`` (lesson 09's shape explorer: a model at a grid of lengths, exact
or padded to buckets; its view is :mod:`course_utils.views.shapes_view`) is imported by its own name.

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.machine`,
:mod:`course_utils.onnxfile`, :mod:`course_utils.models` (the course-model registry), :mod:`course_utils.runtime`
(``sessions``, ``feeds``). Nothing in bench imports :mod:`course_utils.quantize`: the command
``python -m course_utils.bench`` (``__main__.py``, above both parts) registers quantize's int8 engines before it runs.
"""

from __future__ import annotations

from course_utils.bench.cli import main
from course_utils.bench.engines import (
    ENGINES,
    Engine,
    Prepared,
    UnknownEngineError,
    default_engines,
    get_engine,
    ort_session_options,
    register_engine,
)

# The old module's public names, re-exported; ``X as X`` marks those it did not list in __all__.
from course_utils.bench.engines import LEVELS as LEVELS
from course_utils.bench.engines import EngineFactory as EngineFactory
from course_utils.bench.harness import ProgressCallback as ProgressCallback
from course_utils.bench.harness import Timings, harness_overhead_us, measure
from course_utils.bench.peak import Peak, measure_peak, measure_peak_gflops
from course_utils.bench.plots import figure_png, plot_latencies
from course_utils.bench.report import BUDGET_CONFIDENCE as BUDGET_CONFIDENCE
from course_utils.bench.report import MAX_LOAD_PER_CORE as MAX_LOAD_PER_CORE
from course_utils.bench.report import MAX_SPREAD as MAX_SPREAD
from course_utils.bench.report import MIN_RUNS as MIN_RUNS
from course_utils.bench.report import SAME_WITHIN as SAME_WITHIN
from course_utils.bench.report import BenchProgress as BenchProgress
from course_utils.bench.report import (
    BenchReport,
    BenchRow,
    Verdict,
    benchmark,
    budget_verdict,
    late_rate_bound,
    machine_load,
    row_problems,
    runs_needed,
    speed_verdict,
)
from course_utils.bench.stats import LatencyStats, latency_stats
from course_utils.bench.targets import (
    BenchTarget,
    UnknownModelError,
    course_model_onnx,
    course_models,
    export_course_model,
    load_target,
)
from course_utils.bench.targets import Needs as Needs

__all__ = [
    "ENGINES",
    "BenchReport",
    "BenchRow",
    "BenchTarget",
    "Engine",
    "LatencyStats",
    "Peak",
    "Prepared",
    "Timings",
    "UnknownEngineError",
    "UnknownModelError",
    "Verdict",
    "benchmark",
    "budget_verdict",
    "course_model_onnx",
    "course_models",
    "default_engines",
    "export_course_model",
    "figure_png",
    "get_engine",
    "harness_overhead_us",
    "late_rate_bound",
    "latency_stats",
    "load_target",
    "machine_load",
    "main",
    "measure",
    "measure_peak",
    "measure_peak_gflops",
    "ort_session_options",
    "plot_latencies",
    "register_engine",
    "row_problems",
    "runs_needed",
    "speed_verdict",
]
