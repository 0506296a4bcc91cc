from __future__ import annotations

import pytest

from course_utils.lessons import lesson00
from course_utils.lessons.exercises import (
    EXERCISES,
    Exercise,
    Feedback,
    NotYet,
    exercises_of,
    expect,
    expect_close,
    get_exercise,
)


def _square_checker(value):
    expect(isinstance(value, int), "give an integer", expected="int", got=type(value).__name__)
    expect(value == 49, "not the square of seven", why="a square is a number times itself", got=value)
    return "49 it is"


@pytest.fixture
def square():
    exercise = Exercise(
        "t.1",
        "Square seven",
        _square_checker,
        hints=["multiply", "7*7"],
        solution_code="answer = 49\nsquare.check(answer)",
        giveaways=("49",),
    )
    yield exercise
    EXERCISES.pop("t.1", None)


def test_right_answer_passes(square):
    feedback = square.check(49)
    assert feedback.passed and bool(feedback)
    assert str(feedback) == "[PASS] Exercise t.1: 49 it is"


def test_wrong_answer_says_what_and_why_never_the_fix(square):
    feedback = square.check(48)
    assert not feedback.passed
    assert str(feedback).splitlines() == [
        "[NOT YET] Exercise t.1: not the square of seven",
        "  why:      a square is a number times itself",
        "  got:      48",
        "  stuck? .hint() gives a hint; each further call gives a more specific one",
    ]
    assert square.leaks(feedback) == []
    assert square.leaks(square.check(49)) == ["49"]  # the detector finds a giveaway when there is one


def test_no_hint_is_shown_unasked(square):
    feedback = square.check("49")
    assert "multiply" not in str(feedback) and feedback.got == "str"


def test_a_crashing_answer_becomes_feedback():
    def checker(model):
        return model.graph  # AttributeError for a wrong object

    exercise = Exercise("t.2", "crash", checker, hints=["export first"])
    feedback = exercise.check(None)
    EXERCISES.pop("t.2")
    assert not feedback.passed
    assert feedback.message.startswith("checking your answer raised AttributeError")
    assert "export first" not in str(feedback)


def test_hints_escalate_on_each_call_and_clamp(square):
    first, second, again = square.hint(), square.hint(), square.hint()
    assert "Hint 1 of 2" in str(first) and "multiply" in str(first)
    assert "Hint 2 of 2" in str(second) and "(last hint)" in str(second) and "7*7" in str(again)
    assert "multiply" in str(square.hint(1)) and "7*7" in str(square.hint(5))
    assert "7*7" in square.hint(2)._repr_markdown_()


def test_solution_is_code_shown_only_on_request(square):
    solution = square.solution()
    assert "answer = 49" in str(solution)
    assert "```python\nanswer = 49" in solution._repr_markdown_()


def test_run_solution_checks_without_showing_or_touching_the_namespace(square):
    namespace = {"square": square, "answer": 7}
    run = square.run_solution(namespace)
    assert run.passed and "answer = 49" not in str(run) and str(run).startswith("[SOLUTION OK] Exercise t.1")
    assert namespace["answer"] == 7  # the learner's variable is untouched


def test_run_solution_reports_a_broken_solution(square):
    broken = Exercise("t.3", "broken", _square_checker, solution_code="answer = 48\nbroken.check(answer)")
    EXERCISES.pop("t.3")
    assert not broken.run_solution({"broken": broken}).passed
    assert "does not end" in str(Exercise("t.4", "no check", _square_checker, solution_code="x = 1").run_solution())
    EXERCISES.pop("t.4")
    crashing = broken.run_solution({})
    assert not crashing.passed and "NameError" in str(crashing)


def test_exercises_of_a_lesson_in_order():
    assert [e.id for e in exercises_of("00")] == ["00.1"]


def test_feedback_html_escapes():
    html = Feedback("x", False, "<b>bad</b>")._repr_html_()
    assert "&lt;b&gt;bad&lt;/b&gt;" in html and "<b>bad</b>" not in html


def test_expect_close():
    expect_close(1.0000001, 1.0, "close enough")
    with pytest.raises(NotYet) as info:
        expect_close(1.1, 1.0, "too far", rel=1e-3)
    assert info.value.expected == 1.0 and info.value.got == 1.1
    with pytest.raises(NotYet):
        expect_close("abc", 1.0, "not a number")


def test_registry_lookup():
    assert get_exercise("00.1") is lesson00.acronym
    with pytest.raises(KeyError, match="Import the lesson first"):
        get_exercise("99.9")


def test_warm_up_exercise():
    assert lesson00.acronym.check("open neural network exchange").passed
    assert lesson00.acronym.check("Open-Neural-Network-Exchange").passed
    assert not lesson00.acronym.check("Open Network Exchange").passed
    assert not lesson00.acronym.check(None).passed
    assert not lesson00.acronym.check("").passed
