"""``python -m course_utils.gate MODEL --reference REF.npz``: the checks a model must pass before it ships.

The code lives in :mod:`course_utils.deploy.gate`; this module is the command a CI job runs::

    python -m course_utils.gate model.onnx --reference model.reference.npz [--target web|node|python|RELEASE]
        [--budget-ms N] [--atol A]

It prints one line per check (checker, target, parity, latency) and the verdict, and exits 0 when every check that
ran passed, 1 when one failed, 2 with one line on stderr when the model or reference cannot be read or an argument
is not usable.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from course_utils.deploy.gate import GateReport, run_gate, write_reference
from course_utils.errors import CourseError, first_line
from course_utils.onnxfile.render import print_to_pipe

__all__ = ["GateReport", "main", "run_gate", "write_reference"]


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse would print the whole usage; one line says what is wrong and where the help is
        self.exit(2, f"error: {message} (see python -m course_utils.gate --help)\n")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the gate from a shell; returns the exit code (0 pass, 1 fail, 2 bad input)."""
    parser = _Parser(
        prog="python -m course_utils.gate",
        description="Check a model before it ships: onnx checker, target compatibility, parity against stored "
        "reference outputs, and a latency budget. Exit 0 pass, 1 fail, 2 bad input.",
    )
    parser.add_argument("model", help="path to the .onnx file to check")
    parser.add_argument("--reference", required=True, help=".npz with input:<name>/output:<name> arrays")
    parser.add_argument(
        "--target", default="python", help="python (the installed onnxruntime), web, node, or a release such as 1.17"
    )
    parser.add_argument("--budget-ms", type=float, default=None, help="median latency budget in milliseconds")
    parser.add_argument("--atol", type=float, default=1e-4, help="largest absolute difference allowed (1e-4)")
    args = parser.parse_args(argv)
    try:
        report = run_gate(
            args.model, reference=args.reference, target=args.target, budget_ms=args.budget_ms, atol=args.atol
        )
    except (CourseError, OSError, ValueError) as error:
        print(f"error: {first_line(error)}", file=sys.stderr)
        return 2
    print_to_pipe(str(report))
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
