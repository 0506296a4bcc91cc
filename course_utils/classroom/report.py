"""The instructor's view of a class: which exercises are hard, and who completed which lesson.

Run by the hub's admin over the learners' progress files (never anything else)::

    python -m course_utils.progress --class artifacts/workshop/home            # every learner's home under it
    python -m course_utils.progress --class alice/.onnx-course/progress.jsonl bob/.onnx-course/progress.jsonl

Each ``DIR`` is a folder of learners' homes (``DIR/<learner>/.onnx-course/progress.jsonl``), one learner's home
(``DIR/.onnx-course/progress.jsonl``) or a progress file itself. It prints two tables and writes them as CSV
(``--csv FOLDER``, default ``artifacts/classroom/``: ``exercises.csv``, ``learners.csv``):

* per exercise: how many learners tried it, the share who passed, the median checks until the first pass and the
  median hints seen (the hard exercises stand out);
* per learner: lessons completed (every exercise of the lesson passed), exercises passed, checks made.

Anything that is not a progress file (a notebook, a file with a damaged line, a folder without any) is refused
with a one-line error and exit status 2, before anything is printed or written.
"""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..onnxfile.render import html_table, plural, text_table
from ..paths import ARTIFACTS_DIR
from .progress import (
    DEFAULT_FILE,
    Attempts,
    NotAProgressFileError,
    course_exercises,
    median,
    read_records,
    summarize,
)

__all__ = ["ClassReport", "class_report", "find_progress_files", "main"]


def find_progress_files(paths: Sequence[str | Path]) -> dict[str, Path]:
    """Learner name -> progress file, for each path given (see the module's docstring for what a path may be).

    A learner is named by their home folder (the one holding ``.onnx-course/``), else by the file's own name.
    Raises :class:`NotAProgressFileError` for a path that is none of these.
    """
    found: dict[str, Path] = {}
    for given in paths:
        path = Path(given)
        if path.is_dir():
            files = [path / DEFAULT_FILE] if (path / DEFAULT_FILE).is_file() else sorted(path.glob(f"*/{DEFAULT_FILE}"))
            if not files:
                raise NotAProgressFileError(
                    f"{path} holds no progress files (looked for {DEFAULT_FILE.as_posix()} in it and in each folder "
                    "in it): give learners' homes, the folder of them, or progress files"
                )
        elif path.is_file():
            if path.suffix != ".jsonl":
                raise NotAProgressFileError(f"{path} is not a progress file (those are named *.jsonl)")
            files = [path]
        else:
            raise NotAProgressFileError(f"{path} does not exist: give learners' homes or progress files")
        for file in files:
            home = file.parent.parent if file.parent.name == DEFAULT_FILE.parent.name else None
            name = home.name if home is not None else file.stem
            if name in found and found[name] != file:
                name = f"{name} ({file})"
            found[name] = file
    return found


@dataclass(frozen=True)
class ClassReport:
    """Every learner's :class:`~course_utils.classroom.progress.Attempts`, and the course's exercises by lesson."""

    learners: tuple[tuple[str, tuple[Attempts, ...]], ...]
    exercises: tuple[tuple[str, tuple[str, ...]], ...]

    EXERCISE_HEADERS = ("exercise", "tried", "passed", "share passed", "median checks", "median hints")
    LEARNER_HEADERS = ("learner", "lessons completed", "exercises passed", "checks")

    def exercise_rows(self) -> list[list[str]]:
        """Per exercise anyone tried, in course order: tried, passed, share passed, median checks and hints."""
        by_exercise: dict[str, list[Attempts]] = {}
        for _, results in self.learners:
            for result in results:
                by_exercise.setdefault(result.exercise, []).append(result)
        rows = []
        for _, ids in self.exercises:
            for exercise in ids:
                tried = by_exercise.get(exercise, [])
                if not tried:
                    continue
                passed = sum(1 for r in tried if r.passed)
                rows.append(
                    [
                        exercise,
                        str(len(tried)),
                        str(passed),
                        f"{passed / len(tried):.0%}",
                        median([r.attempts for r in tried]),
                        median([r.hints for r in tried]),
                    ]
                )
        return rows

    def learner_rows(self) -> list[list[str]]:
        """Per learner: lessons completed (every exercise passed), exercises passed, checks made."""
        rows = []
        for name, results in self.learners:
            passed = {r.exercise for r in results if r.passed}
            complete = [lesson for lesson, ids in self.exercises if ids and set(ids) <= passed]
            rows.append([name, " ".join(complete) or "-", str(len(passed)), str(sum(r.attempts for r in results))])
        return rows

    def __str__(self) -> str:
        lines = [f"Class progress: {plural(len(self.learners), 'learner')}", ""]
        lines += text_table(self.exercise_rows(), self.EXERCISE_HEADERS, rule=True)
        lines += ["", *text_table(self.learner_rows(), self.LEARNER_HEADERS, rule=True)]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        exercises = html_table(self.exercise_rows(), self.EXERCISE_HEADERS, caption="Exercises")
        learners = html_table(self.learner_rows(), self.LEARNER_HEADERS, caption="Learners")
        return exercises + learners

    def write_csv(self, folder: Path) -> list[Path]:
        """Write ``exercises.csv`` and ``learners.csv`` into ``folder``; return their paths."""
        folder.mkdir(parents=True, exist_ok=True)
        written = []
        for name, headers, rows in (
            ("exercises.csv", self.EXERCISE_HEADERS, self.exercise_rows()),
            ("learners.csv", self.LEARNER_HEADERS, self.learner_rows()),
        ):
            path = folder / name
            with path.open("w", newline="", encoding="utf-8") as out:
                writer = csv.writer(out)
                writer.writerow(headers)
                writer.writerows(rows)
            written.append(path)
        return written


def class_report(paths: Sequence[str | Path]) -> ClassReport:
    """Read every learner's progress file under ``paths`` (raises :class:`NotAProgressFileError` on anything else)."""
    files = find_progress_files(paths)
    learners = tuple((name, tuple(summarize(read_records(file)).values())) for name, file in sorted(files.items()))
    exercises = tuple((lesson, tuple(ids)) for lesson, ids in course_exercises().items())
    return ClassReport(learners, exercises)


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.progress --class DIR…``: print the class tables and write them as CSV."""
    parser = argparse.ArgumentParser(
        prog="python -m course_utils.progress --class",
        description="The instructor's view: per exercise who passed, median checks and hints; per learner the "
        "lessons completed. Reads only learners' progress files.",
    )
    parser.add_argument(
        "--class",
        dest="paths",
        nargs="+",
        required=True,
        metavar="DIR",
        help="learners' homes, a folder of them, or progress files",
    )
    parser.add_argument(
        "--csv",
        type=Path,
        default=ARTIFACTS_DIR / "classroom",
        metavar="FOLDER",
        help="where to write exercises.csv and learners.csv (default: artifacts/classroom/)",
    )
    args = parser.parse_args(argv)
    try:
        report = class_report(args.paths)
    except NotAProgressFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(report)
    written = report.write_csv(args.csv)
    print("\nCSV: " + ", ".join(str(path) for path in written))
    return 0
