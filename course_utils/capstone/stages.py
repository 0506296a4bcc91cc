"""The capstone's graded stages: :class:`Stage` (an :class:`~course_utils.lessons.exercises.Exercise` whose
check also returns the stage's numbers), :class:`StageResult`, :func:`check_stage`, and the report card.

A stage's checker works like an exercise's: it raises :class:`~course_utils.lessons.exercises.NotYet` for a
wrong artifact (what is wrong and why, never the fix) and returns :class:`Passed` (a message plus the numbers
the report card lists) for a right one. Checks are recorded in the learner's progress file like any exercise's
(ids ``12.1`` .. ``12.7``); hints escalate; the reference solution is hidden and run by ``run_solution``.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from course_utils.errors import UnknownStageError
from course_utils.lessons.exercises import Exercise, Feedback
from course_utils.onnxfile.render import html_table, text_table

__all__ = [
    "LESSON",
    "STAGES",
    "CardRow",
    "Passed",
    "ReportCard",
    "Stage",
    "StageResult",
    "check_stage",
    "get_stage",
    "report_card",
    "reset_results",
]

#: The capstone's lesson number: its stages are exercises ``12.1`` .. ``12.7`` and its files go to artifacts/12/.
LESSON = "12"
#: Stage number -> :class:`Stage`, filled as the stage modules are imported.
STAGES: dict[int, Stage] = {}
_LATEST: dict[int, StageResult] = {}

Numbers = tuple[tuple[str, str], ...]


class Passed(str):
    """What a stage's checker returns for a right artifact: the message, plus ``numbers`` (label, value) pairs
    for the report card."""

    numbers: Numbers

    def __new__(cls, message: str, numbers: Numbers = ()) -> Passed:
        made = super().__new__(cls, message)
        made.numbers = tuple((str(k), str(v)) for k, v in numbers)
        return made


@dataclass(frozen=True, repr=False)  # Feedback's own __repr__ (its text), not the dataclass's field list
class StageResult(Feedback):
    """A stage's feedback (what is wrong and why, or that it passed) and, when passed, its numbers.

    ``by`` says whose artifact was checked: ``"you"`` or ``"reference solution"``."""

    stage: int = 0
    title: str = ""
    numbers: Numbers = ()
    by: str = "you"

    def _subject(self) -> str:
        return f"Stage {self.stage} · {self.title}"

    def _passed_details(self) -> list[str]:
        return [f"  {label}: {value}" for label, value in self.numbers]

    def _hint_call(self) -> str:
        return f"capstone.hint({self.stage})"


@dataclass(eq=False)
class Stage(Exercise):
    """One capstone stage: an exercise with a stage ``number`` whose check returns a :class:`StageResult`."""

    number: int = 0
    _solving: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        super().__post_init__()
        STAGES[self.number] = self

    def _feedback(self, *args: Any, **kwargs: Any) -> StageResult:
        base = Exercise._feedback(self, *args, **kwargs)
        numbers: Numbers = getattr(base.message, "numbers", ()) if base.passed else ()
        if self._solving:  # the card may be printed beside the solutions: no number may hand over the fix
            hidden = f"as in the reference solution (capstone.solution({self.number}))"
            numbers = tuple(
                (k, hidden if any(g.lower() in v.lower() for g in self.giveaways) else v) for k, v in numbers
            )
        result = StageResult(
            base.exercise,
            base.passed,
            str(base.message),
            base.expected,
            base.got,
            base.why,
            stage=self.number,
            title=self.title,
            numbers=numbers,
            by="reference solution" if self._solving else "you",
        )
        _LATEST[self.number] = result
        return result

    def check(self, *args: Any, **kwargs: Any) -> StageResult:
        """Check this stage's artifacts (never raises for a wrong one); the result goes on the report card."""
        result = Exercise.check(self, *args, **kwargs)
        assert isinstance(result, StageResult)
        return result

    def run_solution(self, namespace: dict[str, Any] | None = None) -> Any:
        """Run the hidden reference solution (see :meth:`Exercise.run_solution`); the card marks its result."""
        self._solving = True
        try:
            return Exercise.run_solution(self, namespace)
        finally:
            self._solving = False

    def __repr__(self) -> str:
        return (
            f"Stage {self.number}: {self.title} ({len(self.hints)} hints; capstone.check_stage({self.number}, ...), "
            f"capstone.hint({self.number}), capstone.solution({self.number}))"
        )


def get_stage(number: int) -> Stage:
    """Stage ``number`` (1-7); :class:`~course_utils.errors.UnknownStageError` names the stages otherwise."""
    if not isinstance(number, int) or number not in STAGES:
        known = ", ".join(str(n) for n in sorted(STAGES))
        raise UnknownStageError(f"there is no stage {number!r}: the capstone's stages are {known}")
    return STAGES[number]


def check_stage(number: int, *artifacts: Any, **options: Any) -> StageResult:
    """Check stage ``number``'s artifacts with its rubric: a :class:`StageResult` (printed as feedback; on the
    report card). An unknown stage number raises :class:`~course_utils.errors.UnknownStageError`."""
    return get_stage(number).check(*artifacts, **options)


def reset_results() -> None:
    """Forget every stage's result (a fresh report card)."""
    _LATEST.clear()


_STATUS: dict[bool | None, str] = {True: "passed", False: "not yet", None: "not checked"}


@dataclass(frozen=True)
class CardRow:
    """One stage on the report card: its number, title, status (passed / not yet / not checked), whose artifact
    was checked, and its numbers."""

    stage: int
    title: str
    passed: bool | None
    by: str
    numbers: Numbers


@dataclass(frozen=True)
class ReportCard:
    """Every stage's latest result in this kernel: :meth:`__str__` and :meth:`_repr_html_` share :meth:`_rows`."""

    rows: tuple[CardRow, ...]

    @property
    def passed(self) -> tuple[int, ...]:
        """The numbers of the stages passed."""
        return tuple(r.stage for r in self.rows if r.passed)

    @property
    def complete(self) -> bool:
        """True when every stage has passed."""
        return len(self.passed) == len(self.rows)

    def _rows(self) -> list[list[str | list[str]]]:
        """Header, then one row per stage: the one source of the text and the HTML card."""
        table: list[list[str | list[str]]] = [["stage", "status", "checked", "numbers"]]
        for r in self.rows:
            numbers = [f"{label}: {value}" for label, value in r.numbers] or ["-"]
            table.append([f"{r.stage} · {r.title}", _STATUS[r.passed], r.by if r.passed is not None else "-", numbers])
        return table

    def _summary(self) -> str:
        return f"{len(self.passed)} of {len(self.rows)} stages passed" + (
            ": the photo classifier is shipped" if self.complete else ""
        )

    def __str__(self) -> str:
        header, *rows = self._rows()
        return "\n".join(
            ["Capstone report card", *text_table(rows, [str(h) for h in header], rule=True), self._summary()]
        )

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, *rows = self._rows()
        flags = [r.passed for r in self.rows]
        table = html_table(rows, [str(h) for h in header], caption="Capstone report card", flags=flags)
        return table + f"<p>{html.escape(self._summary())}</p>"


def report_card() -> ReportCard:
    """The report card: every stage's latest result in this kernel (learner's or reference solution's)."""
    rows = []
    for number, stage in sorted(STAGES.items()):
        result = _LATEST.get(number)
        rows.append(
            CardRow(
                number,
                stage.title,
                None if result is None else result.passed,
                "-" if result is None else result.by,
                () if result is None else result.numbers,
            )
        )
    return ReportCard(tuple(rows))
