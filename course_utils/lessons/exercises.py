"""Exercises with feedback: checks that say what is wrong and why, hints on request, solutions hidden until asked.

Every lesson module in :mod:`course_utils.lessons` defines its exercises with :class:`Exercise`::

    def _check_batch(path):
        model = load_answer_model(path)            # NotYet if missing / not ONNX
        dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        expect(dim.dim_param != "", "the batch dimension is still fixed",
               why="a session would reject any other batch size",
               expected="a named (symbolic) first dimension", got=f"dim_value={dim.dim_value}")
        return "the batch dimension is symbolic"

    dynamic_batch = Exercise("2.1", "Export with a dynamic batch", _check_batch,
                             hints=["...", "..."], solution_code="...\ndynamic_batch.check(path)",
                             giveaways=("dynamic_shapes",))

and a notebook calls ``dynamic_batch.check(path)``; ``dynamic_batch.hint()`` (again for more) and
``dynamic_batch.solution()`` on request; its Solutions section runs ``dynamic_batch.run_solution()``.
A check never raises on a wrong answer: it returns :class:`Feedback`, which prints as a short report.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

# Absolute, so the import holds wherever this module lives in the package.
from course_utils.classroom.progress import not_recorded, record_check

__all__ = [
    "EXERCISES",
    "Exercise",
    "Feedback",
    "NotYet",
    "Snippet",
    "SolutionRun",
    "exercises_of",
    "expect",
    "expect_close",
    "get_exercise",
]


class NotYet(Exception):
    """Raised inside a checker when the answer is not right yet; becomes a failed :class:`Feedback`.

    ``message`` says what is wrong, ``why`` why it matters; ``expected`` describes the property the answer needs
    (never the code that gives it) and ``got`` what the learner's answer has instead. None of them may name the
    fix: that is what :meth:`Exercise.hint` is for, on request.
    """

    def __init__(self, message: str, *, why: str | None = None, expected: Any = None, got: Any = None):
        super().__init__(message)
        self.message = message
        self.why = why
        self.expected = expected
        self.got = got


def expect(condition: bool, message: str, *, why: str | None = None, expected: Any = None, got: Any = None) -> None:
    """Raise :class:`NotYet` with this feedback unless ``condition`` holds."""
    if not condition:
        raise NotYet(message, why=why, expected=expected, got=got)


def expect_close(
    got: float, expected: float, message: str, *, rel: float = 1e-6, abs_: float = 0.0, why: str | None = None
) -> None:
    """Raise :class:`NotYet` unless ``got`` is within ``abs_ + rel * |expected|`` of ``expected``."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise NotYet(message, why=why, expected=expected, got=repr(got)) from None
    if not abs(value - expected) <= abs_ + rel * abs(expected):
        raise NotYet(message, why=why, expected=expected, got=value)


@dataclass(frozen=True)
class Feedback:
    """The outcome of a check. Prints as plain text; renders as a coloured box in Jupyter.

    A failed check says what is wrong and why, never the fix; its last line points to the hints.
    """

    exercise: str
    passed: bool
    message: str
    expected: str | None = None
    got: str | None = None
    why: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    def _subject(self) -> str:
        return f"Exercise {self.exercise}"

    def _passed_details(self) -> list[str]:
        return []

    def _hint_call(self) -> str:
        return ".hint()"

    def _lines(self) -> list[str]:
        if self.passed:
            return [f"[PASS] {self._subject()}: {self.message}", *self._passed_details()]
        lines = [f"[NOT YET] {self._subject()}: {self.message}"]
        if self.why:
            lines.append(f"  why:      {self.why}")
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.got is not None:
            lines.append(f"  got:      {self.got}")
        lines.append(f"  stuck? {self._hint_call()} gives a hint; each further call gives a more specific one")
        return lines

    def __str__(self) -> str:
        return "\n".join(self._lines())

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        colour = "#1a7f37" if self.passed else "#b35900"
        body = "<br>".join(html.escape(line) for line in self._lines())
        return (
            f'<div style="border-left:4px solid {colour};padding:4px 8px;font-family:monospace;'
            f'white-space:pre-wrap">{body}</div>'
        )


@dataclass(frozen=True)
class Snippet:
    """Text shown on request (a hint or a solution): plain text in a terminal, Markdown in Jupyter."""

    title: str
    text: str
    code: bool = False

    def __str__(self) -> str:
        return f"{self.title}\n{self.text}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_markdown_(self) -> str:
        body = f"```python\n{self.text}\n```" if self.code else self.text
        return f"**{self.title}**\n\n{body}"


@dataclass(frozen=True)
class SolutionRun:
    """The result of running an exercise's hidden reference solution: whether its check passed, not the code."""

    exercise: str
    passed: bool
    detail: str

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return f"[SOLUTION OK] Exercise {self.exercise}: the reference solution passes the check (.solution() shows it)"
        return f"[SOLUTION BROKEN] Exercise {self.exercise}: {self.detail}"

    def __repr__(self) -> str:
        return str(self)


EXERCISES: dict[str, Exercise] = {}


@dataclass
class Exercise:
    """One exercise: an id like ``"2.1"``, a title, a checker, hints in order, and a hidden solution.

    ``checker(*args, **kwargs)`` raises :class:`NotYet` for a wrong answer and returns a success message
    (or ``None``) for a right one. Anything else it raises is reported as feedback, never as a traceback.

    ``solution_code`` is the one source of the reference solution: notebooks never print it, they run it with
    :meth:`run_solution` (so nbval proves it passes) and a learner sees it only by calling :meth:`solution`.
    Its last line is the ``.check(...)`` call. ``giveaways`` are strings that would hand the learner the fix
    (``"dynamic_shapes"``, ``"torch.where"``): tests assert that no feedback to a wrong answer contains them.
    """

    id: str
    title: str
    checker: Callable[..., str | None]
    hints: list[str] = field(default_factory=list)
    solution_code: str = ""
    giveaways: tuple[str, ...] = ()
    _hints_shown: int = field(default=0, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        EXERCISES[self.id] = self

    def check(self, *args: Any, **kwargs: Any) -> Feedback:
        """Check an answer and return feedback (never raises for a wrong or broken answer).

        The check is noted in the learner's own progress file (:mod:`course_utils.classroom.progress`)."""
        feedback = self._feedback(*args, **kwargs)
        record_check(self.id, feedback.passed, self._hints_shown)
        return feedback

    def _feedback(self, *args: Any, **kwargs: Any) -> Feedback:
        try:
            message = self.checker(*args, **kwargs)
        except NotYet as e:
            return Feedback(
                self.id,
                False,
                e.message,
                None if e.expected is None else str(e.expected),
                None if e.got is None else str(e.got),
                e.why,
            )
        except Exception as e:  # a learner's answer may break in any way; report it, don't crash
            return Feedback(self.id, False, f"checking your answer raised {type(e).__name__}: {e}")
        return Feedback(self.id, True, message or "correct")

    def hint(self, number: int | None = None) -> Snippet:
        """The next hint (first call: hint 1, then 2, ...), or hint ``number`` (1-based). Later hints give more away."""
        if not self.hints:
            return Snippet(f"Exercise {self.id}", "No hints for this one: try the solution, .solution().")
        if number is None:
            number = self._hints_shown + 1
        number = max(1, min(number, len(self.hints)))
        self._hints_shown = max(self._hints_shown, number)
        more = " (call .hint() again for a more specific one)" if number < len(self.hints) else " (last hint)"
        return Snippet(f"Hint {number} of {len(self.hints)} for exercise {self.id}{more}", self.hints[number - 1])

    def solution(self) -> Snippet:
        """The reference solution, as code to read (and copy into the exercise cell)."""
        return Snippet(f"Solution to exercise {self.id}: {self.title}", self.solution_code.strip(), code=True)

    def run_solution(self, namespace: dict[str, Any] | None = None) -> SolutionRun:
        """Run the reference solution without showing it, in a copy of ``namespace`` (a learner's variables are
        never overwritten), and report whether its final ``.check(...)`` passed."""
        import ast

        scope: dict[str, Any] = dict(namespace or {})
        scope.setdefault("__name__", f"solution_{self.id}")
        try:
            tree = ast.parse(self.solution_code)
            final = tree.body.pop() if tree.body else None
            if not isinstance(final, ast.Expr):
                return SolutionRun(self.id, False, "the solution does not end in a .check(...) call")
            last = ast.Expression(final.value)
            with not_recorded():  # the reference solution's check is not the learner's attempt
                exec(compile(tree, f"<solution {self.id}>", "exec"), scope)
                feedback = eval(compile(last, f"<solution {self.id}>", "eval"), scope)
        except Exception as e:  # a broken solution is a course bug: say so, don't crash the notebook
            return SolutionRun(self.id, False, f"running it raised {type(e).__name__}: {e}")
        if not isinstance(feedback, Feedback):
            return SolutionRun(self.id, False, "its last line did not return the exercise's feedback")
        return SolutionRun(self.id, feedback.passed, feedback.message)

    def leaks(self, feedback: Feedback) -> list[str]:
        """The giveaways that appear in ``feedback`` (for tests: wrong-answer feedback must not name the fix)."""
        text = str(feedback).lower()
        return [word for word in self.giveaways if word.lower() in text]

    def __repr__(self) -> str:
        return f"Exercise {self.id}: {self.title} ({len(self.hints)} hints; .check(...), .hint(), .solution())"


def exercises_of(lesson: str) -> list[Exercise]:
    """The loaded exercises of a lesson (``"02"`` or ``"2"``), in id order."""
    number = str(int(lesson))
    found = [e for key, e in EXERCISES.items() if key.split(".")[0].lstrip("0") == number.lstrip("0")]
    return sorted(found, key=lambda e: [int(p) if p.isdigit() else p for p in e.id.split(".")])


def get_exercise(exercise_id: str) -> Exercise:
    """Look an exercise up by id (its lesson module must have been imported)."""
    try:
        return EXERCISES[exercise_id]
    except KeyError:
        known = ", ".join(sorted(EXERCISES)) or "none loaded"
        raise KeyError(
            f"No exercise '{exercise_id}'. Loaded: {known}. Import the lesson first, "
            "e.g. `from course_utils.lessons import lesson02`."
        ) from None
