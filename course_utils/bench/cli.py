"""``python -m course_utils.bench``: benchmark models from a terminal, print the table, optionally write JSON."""

from __future__ import annotations

import argparse
import math
import statistics
import sys
from collections.abc import Callable, Sequence

from course_utils.bench.engines import ENGINES, get_engine
from course_utils.bench.targets import course_models
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


def main(argv: Sequence[str] | None = None, *, register_engines: Callable[[Sequence[str]], None] | None = None) -> int:
    """``python -m course_utils.bench``: benchmark models, print the table, optionally write JSON.

    ``register_engines(names)``, when given, is called with the requested engine names before they are looked up:
    the command (``course_utils/bench/__main__.py``) registers lesson 07's int8 engines there, and only when a
    requested name is not registered yet, so ``--help`` and fp32 runs never import quantization."""
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
        help=f"engines to run (default: baseline, ort-disable, ort-all); known: {', '.join(ENGINES)}, and lesson "
        "07's int8 engines (ort-int8-dynamic, ort-int8-static, ort-int8-qdq-u8, ...)",
    )
    parser.add_argument("--threads", type=int, default=1, help="intra-op threads for every engine (default 1)")
    parser.add_argument("--batch", type=int, default=1, help="batch size (default 1)")
    parser.add_argument("--budget", type=float, default=2.0, help="seconds of timed runs per engine (default 2)")
    parser.add_argument("--no-peak", action="store_true", help="skip measuring the CPU's peak GFLOP/s")
    parser.add_argument("--json", metavar="FILE", help="also write the rows as JSON to FILE")
    args = parser.parse_args(argv)
    # Imported only now: `--help` stays fast (tests/test_bench.py checks what it imports).
    from course_utils.bench.harness import harness_overhead_us
    from course_utils.bench.peak import Peak, Precision, measure_peak
    from course_utils.bench.report import benchmark
    from course_utils.bench.targets import load_target

    try:
        if register_engines is not None:
            register_engines(args.engines or [])
        for name in args.engines or []:
            get_engine(name)
        targets = []
        for model in args.models:
            sys.stderr.write(f"loading {model} ...\n")
            targets.append(load_target(model, batch=args.batch))
        peaks: dict[str, Peak] = {}
        if not args.no_peak:
            wanted: set[Precision] = {get_engine(name).precision for name in args.engines or []}
            wanted.add("fp32")
            for precision in sorted(wanted):
                sys.stderr.write(f"measuring the {precision} peak on {args.threads} thread(s) ...\n")
                peaks[precision] = measure_peak(args.threads, precision=precision)
                sys.stderr.write(f"{peaks[precision]}\n")
        sys.stderr.write("measuring the harness's own overhead ...\n")
        overhead = harness_overhead_us(runs=5_000)
        report = benchmark(
            targets,
            args.engines,
            threads=args.threads,
            budget_s=args.budget,
            peak_gflops=peaks["fp32"].value if "fp32" in peaks else None,
            int8_peak_gops=peaks["int8"].value if "int8" in peaks else None,
            on_progress=_stderr_progress,
        )
    except (CourseError, ValueError) as error:
        sys.stderr.write(f"error: {error}\n")
        return 2
    print(report)
    for peak in peaks.values():
        print(peak)
    print(f"harness overhead: {overhead:.2f} µs per timed run (measured on an Identity model)")
    problems = report.problems()
    if problems:  # the table is what was measured; comparing its rows needs a quieter run
        print(f"noisy: rerun on an idle machine ({'; '.join(problems)})")
    if args.json:
        report.to_json(args.json)
        sys.stderr.write(f"wrote {args.json}\n")
    return 0
