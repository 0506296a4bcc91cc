"""Shared steps of the lessons' exercise checkers: turn a learner's answer (a path, bytes or a ModelProto) into
a model, check it, and run it, with every failure reported as :class:`~course_utils.lessons.exercises.NotYet` feedback
(what is wrong, and why) rather than an exception."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import onnx

from course_utils.errors import CourseError
from course_utils.lessons.exercises import NotYet, expect

if TYPE_CHECKING:
    from course_utils.onnxfile.verify import CheckReport

__all__ = ["expect_valid_model", "load_answer", "run_answer"]

_MODEL_TYPES = (onnx.ModelProto, bytes, bytearray, str, os.PathLike)


def load_answer(
    answer: Any,
    *,
    wrong_type: str = "pass the path of the .onnx file you exported",
    missing: str | None = None,
) -> onnx.ModelProto:
    """The model an answer names. ``missing`` is the message for ``None`` (the untouched starting code)."""
    if missing is not None:
        expect(answer is not None, missing)
    expect(isinstance(answer, _MODEL_TYPES), wrong_type, got=type(answer).__name__)
    if isinstance(answer, str | os.PathLike) and not Path(answer).exists():
        from course_utils.paths import relative_to_repo

        raise NotYet(
            f"there is no file at {relative_to_repo(answer)} yet",
            why="the check reads the model from that path; the cell that writes it has not run, or wrote elsewhere",
        )
    from course_utils.onnxfile.modelio import load_model

    try:
        return load_model(answer)
    except CourseError as error:
        raise NotYet(str(error)) from None


def expect_valid_model(model: onnx.ModelProto, why: str | None = None) -> CheckReport:
    """The ONNX checker (full check) and shape inference accept the model; returns their report."""
    from course_utils.onnxfile.verify import check_model

    report = check_model(model)
    failed = [f"{step.name}: {step.detail}" for step in report.steps if not step.passed]
    expect(not failed, "the ONNX checker rejects the model", why=why, got="; ".join(failed))
    return report


def run_answer(model: Any, inputs: Any, failure: str) -> dict[str, np.ndarray]:
    """Run the learner's model with ONNX Runtime; a failure becomes ``"<failure>: <one-line reason>"``."""
    from course_utils.runtime.run import run_onnx

    try:
        return run_onnx(model, inputs)
    except CourseError as error:
        raise NotYet(f"{failure}: {error}") from None
