"""``python -m course_utils.bench``: benchmark models from a terminal, print the table, optionally write JSON."""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Sequence

from course_utils.bench.engines import ENGINES, get_engine
from course_utils.bench.harness import harness_overhead_us
from course_utils.bench.peak import measure_peak_gflops
from course_utils.bench.report import benchmark
from course_utils.bench.targets import course_models, load_target
from course_utils.errors import CourseError

__all__ = ["main"]

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
    """``python -m course_utils.bench``: benchmark models, print the table, optionally write JSON. The engines
    are those registered when it runs (the command registers lesson 07's int8 engines first: see
    ``course_utils/bench/__main__.py``)."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.bench",
        description="Benchmark ONNX models with ONNX Runtime (and the framework baselines of the course models).",
    )
    parser.add_argument(
        "models", nargs="+", metavar="MODEL", help=f"an .onnx path or one of {', '.join(course_models())}"
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
