"""Lesson 10's exercise checks: every hidden solution passes; plausible wrong answers get feedback that says what
is wrong without giving the fix away (scaffolded by ./course new-lesson: keep the pattern for real exercises)."""

from __future__ import annotations

import pytest
from course_test_helpers import assert_wrong

from course_utils.lessons import lesson10
from course_utils.lessons.exercises import exercises_of
from course_utils.lessons.lesson10 import demo_model


def test_every_solution_passes_and_ends_in_its_check():
    exercises = exercises_of("10")
    assert [e.id for e in exercises] == ["10.1", "10.2", "10.3"]
    for exercise in exercises:
        run = exercise.run_solution({"lesson10": lesson10})
        assert run.passed, run
        assert ".check(" in exercise.solution_code.strip().splitlines()[-1]
        assert len(exercise.hints) >= 3


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (None, "not a list"),  # the starting cell
        (["MatMul"], "1 name(s)"),
        (["matmul", "relu"], "not the graph's op types"),
        (["Relu", "MatMul"], "not in graph order"),
    ],
)
def test_op_types_wrong_answers(answer, fragment):
    assert_wrong(lesson10.op_types, lesson10.op_types.check(answer), fragment)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (None, "not a tuple"),  # the starting cell
        (("batch", 4), "not a tuple of ints"),
        ((1, 4), "not the batch"),
        ((5, 3), "not what MatMul"),
        ((5, 4, 1), "3 dimension(s)"),
    ],
)
def test_output_shape_wrong_answers(answer, fragment):
    assert_wrong(lesson10.output_shape, lesson10.output_shape.check(answer), fragment)


@pytest.mark.parametrize(
    ("answer", "fragment"),
    [
        (None, "not an onnx.ModelProto"),  # the starting cell
        (demo_model(), "still has a Relu"),
        (demo_model("Tanh"), "not the demo's MatMul followed by a Sigmoid"),
    ],
)
def test_swap_activation_wrong_answers(answer, fragment):
    assert_wrong(lesson10.swap_activation, lesson10.swap_activation.check(answer), fragment)
