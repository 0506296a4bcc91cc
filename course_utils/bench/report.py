"""Rows, reports and verdicts: :func:`benchmark` runs engines on a target; verdicts say whether a difference is real."""

from __future__ import annotations

import functools
import gc
import html
import json
import math
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from course_utils.bench.engines import Prepared, default_engines, get_engine
from course_utils.bench.harness import measure
from course_utils.bench.targets import BenchTarget
from course_utils.onnxfile.render import html_table, text_table

__all__ = [
    "BUDGET_CONFIDENCE",
    "MAX_LOAD_PER_CORE",
    "MAX_SPREAD",
    "MIN_RUNS",
    "SAME_WITHIN",
    "BenchProgress",
    "BenchReport",
    "BenchRow",
    "Verdict",
    "benchmark",
    "budget_verdict",
    "late_rate_bound",
    "machine_load",
    "row_problems",
    "runs_needed",
    "speed_verdict",
]

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
            timer = prepared.measure or functools.partial(measure, prepared.run)
            timings = timer(budget_s=budget_s, on_progress=progress, **measure_options)
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


#: The confidence of the late-run bound a budget verdict states (one-sided).
BUDGET_CONFIDENCE = 0.95


def late_rate_bound(late: int, runs: int, confidence: float = BUDGET_CONFIDENCE) -> float:
    """The largest share of runs over a budget that ``late`` late runs out of ``runs`` are consistent with.

    A one-sided Clopper-Pearson upper bound: the rate ``p`` at which seeing ``late`` or fewer late runs in ``runs``
    has probability ``1 - confidence``. With no late run it is ``1 - (1 - confidence) ** (1 / runs)``, about
    ``3 / runs`` at 95% (the "rule of three"): 20 runs without a late one support "at most about 1 in 7", not
    "at most 1 in 100", which needs about 300.
    """
    if runs < 1 or not 0 <= late <= runs or not 0 < confidence < 1:
        raise ValueError(f"late_rate_bound needs 0 <= late <= runs, runs >= 1, 0 < confidence < 1; got {late}, {runs}")
    if late == runs:
        return 1.0
    alpha = 1 - confidence

    def at_most_late(p: float) -> float:  # P(X <= late) for X ~ Binomial(runs, p), summed in log space
        if p <= 0:
            return 1.0
        log_p, log_q = math.log(p), math.log1p(-p)
        return sum(
            math.exp(
                math.lgamma(runs + 1) - math.lgamma(k + 1) - math.lgamma(runs - k + 1) + k * log_p + (runs - k) * log_q
            )
            for k in range(late + 1)
        )

    low, high = late / runs, 1.0
    for _ in range(60):  # P(X <= late) falls as p grows: bisect for the p where it equals alpha
        middle = (low + high) / 2
        if at_most_late(middle) > alpha:
            low = middle
        else:
            high = middle
    return high


def runs_needed(rate: float, confidence: float = BUDGET_CONFIDENCE) -> int:
    """How many runs, none of them late, support "at most ``rate`` of runs are late" (about ``3 / rate`` at 95%)."""
    if not 0 < rate < 1:
        raise ValueError(f"rate must be between 0 and 1, got {rate}")
    return math.ceil(math.log(1 - confidence) / math.log1p(-rate))


def _late_runs(row: BenchRow, budget_ms: float) -> int:
    """Runs over ``budget_ms``: counted in the samples, or (a row read back without them) the most that its p99
    allows: every sample at or below the p99's rank is at most the p99."""
    if row.samples_ms:
        return sum(sample > budget_ms for sample in row.samples_ms)
    if row.p99_ms > budget_ms:
        return max(1, row.runs - 1 - math.floor(0.99 * (row.runs - 1)))
    return row.runs - 1 - math.floor(0.99 * (row.runs - 1))


def budget_verdict(row: BenchRow, budget_ms: float, *, load_per_core: float | None = None, **checks: Any) -> Verdict:
    """Does ``row``'s p99 latency fit in ``budget_ms`` (e.g. 1000/30 ms per frame at 30 fps)?

    The p99, not the median: a median under budget leaves up to half the frames late. A p99 under budget means
    at most about 1 run in 100 of *these* runs was late; what that says about the runs to come depends on how
    many were timed, so the claim states the bound the runs support (:func:`late_rate_bound`, 95%): with no
    late run in n runs, about 3/n. Noisy rows (see :func:`speed_verdict`) give no conclusion.
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
    late = _late_runs(row, budget_ms)
    counted = f"{late} of {row.runs} runs" if row.samples_ms else f"at most {late} of {row.runs} runs"
    if row.p99_ms <= budget_ms:
        bound = late_rate_bound(late, row.runs)
        claim = (
            f"{row.engine} meets the budget (p99 at {ratio:.0%} of it): {counted} over it, so at most "
            f"{bound:.1%} of runs are (about 1 in {1 / bound:.0f}, {BUDGET_CONFIDENCE:.0%} confidence)"
        )
        if bound > 0.01:
            claim += f"; 'at most 1 in 100' needs {runs_needed(0.01)} runs with none over it"
        return Verdict(measured, "meets", claim, ratio)
    late_text = "at least half of the runs were" if row.p50_ms > budget_ms else f"{counted} were"
    claim = f"{row.engine} misses the budget: {late_text} over it (p99 at {ratio:.0%} of it)"
    return Verdict(measured, "misses", claim, ratio)
