"""``python -m course_utils.quantize [digits_cnn|resnet18]``: the lesson's table from a terminal."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from course_utils.quantize.configs import CONFIGS, TUNED
from course_utils.quantize.report import compare

__all__ = ["main"]

# ------------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.quantize [digits_cnn|resnet18] [--no-timing] [--json]``: the lesson's table."""
    parser = argparse.ArgumentParser(description="Quantize a course model every way lesson 07 shows; compare.")
    parser.add_argument("model", nargs="?", default="resnet18", choices=["digits_cnn", "resnet18"])
    parser.add_argument(
        "--no-timing", action="store_true", help="structure and accuracy only (fast, machine-independent)"
    )
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed runs per variant (default 1)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    configs = [*CONFIGS.values(), *TUNED.values()]
    report = compare(args.model, configs, measure=not args.no_timing, budget_s=args.budget, threads=args.threads)
    print(report.to_json() if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
