"""Progress on the exercises, for learners and instructors (the code lives in :mod:`course_utils.classroom`).

::

    python -m course_utils.progress                  # your progress per lesson (./course progress)
    python -m course_utils.progress --delete         # delete your progress file (./course progress --delete)
    python -m course_utils.progress --class DIR…     # the instructor's view over learners' progress files

In a notebook: ``from course_utils.progress import my_progress; my_progress()``. Where the file is, what it
holds and how to turn it off: :mod:`course_utils.classroom.progress`; the instructor's view:
:mod:`course_utils.classroom.report`.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from .classroom.progress import NotAProgressFileError, delete_progress, my_progress, progress_file
from .classroom.report import class_report
from .classroom.report import main as class_main

__all__ = ["class_report", "delete_progress", "main", "my_progress", "progress_file"]

_USAGE = "usage: python -m course_utils.progress [--delete | --class DIR…]"


def main(argv: Sequence[str] | None = None) -> int:
    """Print this learner's progress, delete it (``--delete``), or the class view (``--class DIR…``)."""
    args = list(sys.argv[1:] if argv is None else argv)
    if any(arg == "--class" or arg.startswith("--class=") for arg in args):
        return class_main(args)
    if args in (["--help"], ["-h"]):
        print(f"{_USAGE}\n\n{(__doc__ or '').strip()}")
        return 0
    try:
        if args == ["--delete"]:
            print(delete_progress())
        elif not args:
            print(my_progress())
        else:
            print(f"{_USAGE}\nunknown arguments: {' '.join(args)}", file=sys.stderr)
            return 2
    except NotAProgressFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
