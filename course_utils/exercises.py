"""Exercises with feedback: checks that say what was expected, what the learner gave, and a hint.

Every lesson module in :mod:`course_utils.lessons` defines its exercises with :class:`Exercise`::

    def _check_batch(path):
        model = load_answer_model(path)            # NotYet if missing / not ONNX
        dim = model.graph.input[0].type.tensor_type.shape.dim[0]
        expect(dim.dim_param != "", "the batch dimension is still fixed",
               expected="a named (symbolic) first dimension", got=f"dim_value={dim.dim_value}",
               hint="pass dynamic_shapes={'x': {0: Dim('batch')}}")
        return "the batch dimension is symbolic"

    dynamic_batch = Exercise("2.1", "Export with a dynamic batch", _check_batch,
                             hints=["...", "..."], solution="torch.onnx.export(...)")

and a notebook calls ``dynamic_batch.check(path)``, ``dynamic_batch.hint()``, ``dynamic_batch.solution()``.
A check never raises on a wrong answer: it returns :class:`Feedback`, which prints as a short report.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "EXERCISES",
    "Exercise",
    "Feedback",
    "NotYet",
    "Snippet",
    "expect",
    "expect_close",
    "get_exercise",
]


class NotYet(Exception):
    """Raised inside a checker when the answer is not right yet; becomes a failed :class:`Feedback`."""

    def __init__(self, message: str, *, expected: Any = None, got: Any = None, hint: str | None = None):
        super().__init__(message)
        self.message = message
        self.expected = expected
        self.got = got
        self.hint = hint


def expect(condition: bool, message: str, *, expected: Any = None, got: Any = None, hint: str | None = None) -> None:
    """Raise :class:`NotYet` with this feedback unless ``condition`` holds."""
    if not condition:
        raise NotYet(message, expected=expected, got=got, hint=hint)


def expect_close(
    got: float, expected: float, message: str, *, rel: float = 1e-6, abs_: float = 0.0, hint: str | None = None
) -> None:
    """Raise :class:`NotYet` unless ``got`` is within ``abs_ + rel * |expected|`` of ``expected``."""
    try:
        value = float(got)
    except (TypeError, ValueError):
        raise NotYet(message, expected=expected, got=repr(got), hint=hint) from None
    if not abs(value - expected) <= abs_ + rel * abs(expected):
        raise NotYet(message, expected=expected, got=value, hint=hint)


@dataclass(frozen=True)
class Feedback:
    """The outcome of a check. Prints as plain text; renders as a coloured box in Jupyter."""

    exercise: str
    passed: bool
    message: str
    expected: str | None = None
    got: str | None = None
    hint: str | None = None

    def __bool__(self) -> bool:
        return self.passed

    def _lines(self) -> list[str]:
        if self.passed:
            return [f"[PASS] Exercise {self.exercise}: {self.message}"]
        lines = [f"[NOT YET] Exercise {self.exercise}: {self.message}"]
        if self.expected is not None:
            lines.append(f"  expected: {self.expected}")
        if self.got is not None:
            lines.append(f"  got:      {self.got}")
        if self.hint:
            lines.append(f"  hint:     {self.hint}")
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


EXERCISES: dict[str, Exercise] = {}


@dataclass
class Exercise:
    """One exercise: an id like ``"2.1"``, a title, a checker, hints in order, and a solution.

    ``checker(*args, **kwargs)`` raises :class:`NotYet` for a wrong answer and returns a success message
    (or ``None``) for a right one. Anything else it raises is reported as feedback, never as a traceback.
    """

    id: str
    title: str
    checker: Callable[..., str | None]
    hints: list[str] = field(default_factory=list)
    solution_code: str = ""

    def __post_init__(self) -> None:
        EXERCISES[self.id] = self

    def check(self, *args: Any, **kwargs: Any) -> Feedback:
        """Check an answer and return feedback (never raises for a wrong or broken answer)."""
        first_hint = self.hints[0] if self.hints else None
        try:
            message = self.checker(*args, **kwargs)
        except NotYet as e:
            return Feedback(
                self.id,
                False,
                e.message,
                None if e.expected is None else str(e.expected),
                None if e.got is None else str(e.got),
                e.hint or first_hint,
            )
        except Exception as e:  # a learner's answer may break in any way; report it, don't crash
            return Feedback(
                self.id,
                False,
                f"checking your answer raised {type(e).__name__}: {e}",
                hint=first_hint,
            )
        return Feedback(self.id, True, message or "correct")

    def hint(self, number: int = 1) -> Snippet:
        """Hint ``number`` (1-based). Later hints give more away."""
        if not self.hints:
            return Snippet(f"Exercise {self.id}", "No hints for this one: try the solution.")
        number = max(1, min(number, len(self.hints)))
        more = f" (next: .hint({number + 1}))" if number < len(self.hints) else " (last hint)"
        return Snippet(f"Hint {number} of {len(self.hints)} for exercise {self.id}{more}", self.hints[number - 1])

    def solution(self) -> Snippet:
        """The reference solution, as code to read (and copy into the exercise cell)."""
        return Snippet(f"Solution to exercise {self.id}: {self.title}", self.solution_code.strip(), code=True)

    def __repr__(self) -> str:
        return f"Exercise {self.id}: {self.title} ({len(self.hints)} hints; .check(...), .hint(), .solution())"


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
