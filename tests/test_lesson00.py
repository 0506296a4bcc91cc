"""The index's warm-up exercise: right answers pass, wrong ones say what is wrong without the answer."""

from __future__ import annotations

import pytest

from course_utils.lessons import lesson00
from course_utils.lessons.lesson00 import acronym


@pytest.mark.parametrize("answer", ["Open Neural Network Exchange", "open-neural-network-exchange"])
def test_right_answers_pass(answer):
    assert acronym.check(answer).passed


@pytest.mark.parametrize(
    "answer,fragment",
    [
        (None, "not text"),
        ("", "empty"),
        ("Open Network Exchange", "3 word(s)"),
        ("Open Neural Net Exchange Format", "5 word(s)"),
        ("Optimized Neural Network Executor", "not the ones"),
        ("Open Network Neural eXchange", "not the ones"),
        ("Open Numeric Graph Exchange", "not the ones"),
    ],
)
def test_wrong_answers_say_what_is_wrong_without_the_answer(answer, fragment):
    feedback = acronym.check(answer)
    assert not feedback.passed and fragment in str(feedback)
    assert acronym.leaks(feedback) == [] or "exchange" in str(answer).lower()  # echoing the learner is no leak
    assert "Exchange" not in (feedback.why or "") + (feedback.expected or "") + feedback.message


def test_hidden_solution_passes_and_hints_escalate():
    assert acronym.run_solution({"acronym": acronym}).passed
    exercise = lesson00.acronym
    assert "Hint 1 of 2" in str(exercise.hint(1)) and "Hint 2 of 2" in str(exercise.hint(2))
