"""A learner's progress: each exercise check noted in a small file in their own home, read back per lesson.

Every ``exercise.check(...)`` appends one line of JSON to ``~/.onnx-course/progress.jsonl``::

    {"v": 1, "exercise": "02.1", "passed": false, "attempt": 3, "hints": 1, "time": "2026-12-07T13:10:22Z"}

(``attempt``: the how-many-th check of that exercise in the file; ``hints``: how many of its hints the learner
had seen in that kernel). The file stays on the learner's machine: nothing reads it but :func:`my_progress`
(the index notebook, ``./course progress``) and, on a workshop hub, the instructor's
``python -m course_utils.progress --class DIR`` run over the learners' homes. Nothing is ever sent anywhere.

* ``COURSE_PROGRESS=0`` (or ``off``/``false``/``no``) turns recording off; checks work exactly the same.
* ``COURSE_PROGRESS_FILE=/some/path.jsonl`` records there instead (tests and re-executed notebooks use the null
  device, so nothing lands in a real home, see ``course_utils/_notebook_env.py``).
* :func:`delete_progress` (``./course progress --delete``) removes the file.

A reference solution run by ``run_solution`` is not the learner's attempt: :func:`not_recorded` pauses recording
around it. Recording never breaks a check: a home that cannot be written to just records nothing.
"""

from __future__ import annotations

import ast
import contextlib
import datetime as dt
import json
import os
import re
import statistics
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import NotAProgressFileError  # its home; importable from here too
from ..onnxfile.render import html_table, plural, text_table

__all__ = [
    "FILE_ENV",
    "SWITCH_ENV",
    "Attempts",
    "CheckRecord",
    "NotAProgressFileError",
    "ProgressReport",
    "course_exercises",
    "delete_progress",
    "lesson_of",
    "median",
    "my_progress",
    "not_recorded",
    "progress_file",
    "read_records",
    "record_check",
    "recording_enabled",
    "summarize",
]

SWITCH_ENV = "COURSE_PROGRESS"
"""Environment variable: ``0``/``off``/``false``/``no`` turns recording off (default: on)."""
FILE_ENV = "COURSE_PROGRESS_FILE"
"""Environment variable: the progress file's path (default ``~/.onnx-course/progress.jsonl``)."""
DEFAULT_FILE = Path(".onnx-course") / "progress.jsonl"
_OFF = ("0", "off", "false", "no")
_EXERCISE_ID = re.compile(r"^\d{2}\.\d+$")
_FIELDS = {"v": int, "exercise": str, "passed": bool, "attempt": int, "hints": int, "time": str}


def progress_file() -> Path:
    """Where this learner's checks are recorded: ``$COURSE_PROGRESS_FILE``, else ``~/.onnx-course/progress.jsonl``."""
    override = os.environ.get(FILE_ENV, "").strip()
    return Path(override).expanduser() if override else Path.home() / DEFAULT_FILE


def recording_enabled() -> bool:
    """False when ``COURSE_PROGRESS`` is ``0``, ``off``, ``false`` or ``no``."""
    return os.environ.get(SWITCH_ENV, "").strip().lower() not in _OFF


_paused = threading.local()


def _paused_depth() -> int:
    depth: int = getattr(_paused, "depth", 0)
    return depth


@contextlib.contextmanager
def not_recorded() -> Iterator[None]:
    """Checks made inside this block (in this thread) are not recorded: a reference solution's run, a test."""
    depth = _paused_depth()
    _paused.depth = depth + 1
    try:
        yield
    finally:
        _paused.depth = depth


@dataclass(frozen=True)
class CheckRecord:
    """One recorded check: which exercise, whether it passed, its attempt number, hints seen, when (UTC)."""

    exercise: str
    passed: bool
    attempt: int
    hints: int
    time: str

    def to_json(self) -> str:
        """The record as the file's one line of JSON."""
        fields = {"v": 1, "exercise": self.exercise, "passed": self.passed, "attempt": self.attempt}
        return json.dumps({**fields, "hints": self.hints, "time": self.time}, separators=(", ", ": "))


def lesson_of(exercise: str) -> str:
    """``"02.3"`` -> ``"02"``."""
    return exercise.split(".")[0]


def _parse(line: str, where: str) -> CheckRecord:
    try:
        data: Any = json.loads(line)
    except ValueError:
        raise NotAProgressFileError(f"{where} is not a course progress record (not JSON)") from None
    if not isinstance(data, dict) or set(data) != set(_FIELDS):
        raise NotAProgressFileError(
            f"{where} is not a course progress record (its fields must be exactly: {', '.join(_FIELDS)})"
        )
    for key, kind in _FIELDS.items():
        # bool is an int in Python: a count given as true/false is damaged, not a count.
        if not isinstance(data[key], kind) or (kind is int and isinstance(data[key], bool)):
            raise NotAProgressFileError(f"{where} is not a course progress record ({key!r} must be a {kind.__name__})")
    if data["v"] != 1 or not _EXERCISE_ID.match(data["exercise"]) or data["attempt"] < 1 or data["hints"] < 0:
        raise NotAProgressFileError(f"{where} is not a course progress record (version, exercise id or counts)")
    return CheckRecord(data["exercise"], data["passed"], data["attempt"], data["hints"], data["time"])


def read_records(path: str | os.PathLike[str] | None = None) -> list[CheckRecord]:
    """The checks recorded in ``path`` (default :func:`progress_file`), oldest first; ``[]`` when there is none.

    Raises :class:`NotAProgressFileError` naming the first line that is not a record: nothing else is read.
    """
    file = progress_file() if path is None else Path(path)
    if not file.is_file():  # absent, or the null device tests record to
        return []
    try:
        text = file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise NotAProgressFileError(f"{file} is not a course progress file (not UTF-8 text)") from None
    return [_parse(line, f"{file} line {n}") for n, line in enumerate(text.splitlines(), 1) if line.strip()]


def record_check(exercise: str, passed: bool, hints: int = 0) -> None:
    """Append one check to the learner's progress file (unless recording is off or paused). Never raises."""
    if not recording_enabled() or _paused_depth():
        return
    file = progress_file()
    try:
        try:
            earlier = sum(1 for record in read_records(file) if record.exercise == exercise)
        except NotAProgressFileError:
            earlier = 0  # a damaged file is kept as it is; the instructor's view will name the bad line
        now = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        line = CheckRecord(exercise, bool(passed), earlier + 1, int(hints), now).to_json()
        if file.parent != Path(os.devnull).parent:
            file.parent.mkdir(parents=True, exist_ok=True)
        with file.open("a", encoding="utf-8") as out:
            out.write(line + "\n")
    except OSError:
        pass  # a read-only home: the check itself matters more than its record


@dataclass(frozen=True)
class Attempts:
    """One learner's work on one exercise: passed at some point, checks until the first pass, hints seen by then."""

    exercise: str
    passed: bool
    attempts: int
    hints: int


def summarize(records: Iterable[CheckRecord]) -> dict[str, Attempts]:
    """Per exercise: passed or not, checks up to and including the first pass (all checks if never passed), and
    the most hints seen by then. Checks after the first pass (a learner trying again) do not count."""
    found: dict[str, Attempts] = {}
    for record in records:
        before = found.get(record.exercise)
        if before is not None and before.passed:
            continue
        attempts = 1 if before is None else before.attempts + 1
        hints = max(record.hints, 0 if before is None else before.hints)
        found[record.exercise] = Attempts(record.exercise, record.passed, attempts, hints)
    return dict(sorted(found.items(), key=lambda item: _order(item[0])))


def _order(exercise: str) -> tuple[int, ...]:
    return tuple(int(part) for part in exercise.split("."))


def median(values: list[int]) -> str:
    """The median as text (``"2"``, ``"2.5"``), ``"-"`` for no values."""
    if not values:
        return "-"
    value = statistics.median(values)
    return f"{value:g}"


def course_exercises() -> dict[str, list[str]]:
    """Every exercise id of the course by lesson (``{"02": ["02.1", ...]}``), read from the lesson modules' source
    (``Exercise("02.1", ...)``) and the capstone's stages (``Stage("12.1", ...)``) without importing them, so no
    framework loads."""
    lessons: dict[str, list[str]] = {}
    entries = [
        *sorted(resources.files("course_utils.lessons").iterdir(), key=lambda e: e.name),
        resources.files("course_utils").joinpath("capstone", "plan.py"),  # read, not imported
    ]
    for entry in entries:
        if not (entry.name.startswith(("lesson", "plan")) and entry.name.endswith(".py")):
            continue
        for node in ast.walk(ast.parse(entry.read_text(encoding="utf-8"))):
            if (
                isinstance(node, ast.Call)
                and getattr(node.func, "id", getattr(node.func, "attr", None)) in ("Exercise", "Stage")
                and node.args
                and isinstance(node.args[0], ast.Constant)
                and isinstance(node.args[0].value, str)
                and _EXERCISE_ID.match(node.args[0].value)
            ):
                exercise = node.args[0].value
                lessons.setdefault(lesson_of(exercise), []).append(exercise)
    return {lesson: sorted(ids, key=_order) for lesson, ids in sorted(lessons.items())}


@dataclass(frozen=True)
class ProgressReport:
    """A learner's progress per lesson, from their progress file (what the index and ``./course progress`` show)."""

    results: tuple[Attempts, ...]
    exercises: tuple[tuple[str, tuple[str, ...]], ...]  # (lesson, its exercise ids), every lesson of the course
    recording: bool
    location: str

    def _rows(self) -> list[list[str]]:
        by_id = {result.exercise: result for result in self.results}
        rows = []
        for lesson, ids in self.exercises:
            mine = [by_id[e] for e in ids if e in by_id]
            if not mine:
                continue
            passed = [r.exercise for r in mine if r.passed]
            open_ = [r.exercise for r in mine if not r.passed]
            status = "complete" if len(passed) == len(ids) else f"{len(passed)} of {len(ids)} passed"
            rows.append(
                [
                    lesson,
                    status,
                    ", ".join(passed) or "-",
                    ", ".join(open_) or "-",
                    str(sum(r.attempts for r in mine)),
                    str(sum(r.hints for r in mine)),
                ]
            )
        return rows

    _HEADERS = ("lesson", "status", "passed", "tried, not yet passed", "checks", "hints")

    def _lines(self) -> list[str]:
        lines = []
        if not self.results:
            lines.append(
                "No exercise checked yet: once you run an exercise's check(...), this shows, per lesson, "
                "what you passed."
            )
        else:
            total = sum(len(ids) for _, ids in self.exercises)
            done = sum(1 for r in self.results if r.passed)
            complete = sum(1 for row in self._rows() if row[1] == "complete")
            lines.append(
                f"Your progress: {done} of {plural(total, 'exercise')} passed, "
                f"{plural(complete, 'lesson')} complete (recorded in {self.location})"
            )
        if not self.recording:
            lines.append(f"Recording is off ({SWITCH_ENV}=0): new checks are not noted.")
        return lines

    def __str__(self) -> str:
        table = text_table(self._rows(), self._HEADERS, rule=True) if self.results else []
        return "\n".join([*self._lines(), *table])

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        import html

        text = "<br>".join(html.escape(line) for line in self._lines())
        table = html_table(self._rows(), self._HEADERS) if self.results else ""
        return f'<div style="font-family:monospace">{text}</div>{table}'


def _shown(path: Path) -> str:
    try:
        return "~/" + path.relative_to(Path.home()).as_posix()
    except ValueError:
        return str(path)


def my_progress(path: str | os.PathLike[str] | None = None) -> ProgressReport:
    """This learner's progress per lesson (from :func:`progress_file` unless ``path`` is given)."""
    file = progress_file() if path is None else Path(path)
    results = tuple(summarize(read_records(file)).values())
    exercises = tuple((lesson, tuple(ids)) for lesson, ids in course_exercises().items())
    return ProgressReport(results, exercises, recording_enabled(), _shown(file))


def delete_progress(path: str | os.PathLike[str] | None = None) -> str:
    """Delete the progress file (after checking it is one); return what was done, as one line."""
    file = progress_file() if path is None else Path(path)
    if not file.is_file():
        return f"No progress file at {_shown(file)}: nothing to delete."
    count = len(read_records(file))  # refuses to delete a file that is not a progress file
    file.unlink()
    if file.parent.name == DEFAULT_FILE.parent.name:
        with contextlib.suppress(OSError):
            file.parent.rmdir()  # ~/.onnx-course, only when nothing else is in it
    return f"Deleted {_shown(file)} ({plural(count, 'recorded check')})."
