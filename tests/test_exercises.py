from __future__ import annotations

import pytest

from course_utils.exercises import EXERCISES, Exercise, Feedback, NotYet, expect, expect_close, get_exercise
from course_utils.lessons import lesson00


def _square_checker(value):
    expect(isinstance(value, int), "give an integer", expected="int", got=type(value).__name__)
    expect(value == 49, "wrong number", expected=49, got=value, hint="7 times 7")
    return "49 it is"


@pytest.fixture
def square():
    exercise = Exercise("t.1", "Square seven", _square_checker, hints=["multiply", "7*7"], solution_code="answer = 49")
    yield exercise
    EXERCISES.pop("t.1", None)


def test_right_answer_passes(square):
    feedback = square.check(49)
    assert feedback.passed and bool(feedback)
    assert str(feedback) == "[PASS] Exercise t.1: 49 it is"


def test_wrong_answer_says_expected_got_and_hint(square):
    feedback = square.check(48)
    assert not feedback.passed
    assert str(feedback).splitlines() == [
        "[NOT YET] Exercise t.1: wrong number",
        "  expected: 49",
        "  got:      48",
        "  hint:     7 times 7",
    ]


def test_first_hint_used_when_the_checker_gives_none(square):
    feedback = square.check("49")
    assert feedback.hint == "multiply" and feedback.got == "str"


def test_a_crashing_answer_becomes_feedback():
    def checker(model):
        return model.graph  # AttributeError for a wrong object

    exercise = Exercise("t.2", "crash", checker, hints=["export first"])
    feedback = exercise.check(None)
    EXERCISES.pop("t.2")
    assert not feedback.passed
    assert feedback.message.startswith("checking your answer raised AttributeError")
    assert feedback.hint == "export first"


def test_hints_in_order_and_clamped(square):
    assert "Hint 1 of 2" in str(square.hint()) and "multiply" in str(square.hint())
    assert "(last hint)" in str(square.hint(2)) and "7*7" in str(square.hint(5))
    assert "7*7" in square.hint(2)._repr_markdown_()


def test_solution_is_code(square):
    solution = square.solution()
    assert "answer = 49" in str(solution)
    assert "```python\nanswer = 49\n```" in solution._repr_markdown_()


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
