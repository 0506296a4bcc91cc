"""The timing harness: run a callable until a budget or a run count is reached, and its own overhead."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from course_utils.bench.stats import LatencyStats, latency_stats

__all__ = ["ProgressCallback", "Timings", "harness_overhead_us", "measure"]

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
      (When warm-up alone has used the whole budget, one warm-up call is enough; ``warmup_runs=0`` with
      ``warmup_s=0`` skips it, for a run that is already warm.)
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
    while warmup_runs > 0 or warmup_s > 0:  # both 0: no warm-up (a later round of an already warm engine)
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

    from course_utils.runtime.sessions import create_session, session_options

    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Identity", ["x"], ["y"])],
        "identity",
        [onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, 16])],
        [onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, 16])],
    )
    model = onnx.helper.make_model(graph, opset_imports=[onnx.helper.make_opsetid("", 17)], ir_version=8)
    session = create_session(model.SerializeToString(), session_options(threads=1))
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
