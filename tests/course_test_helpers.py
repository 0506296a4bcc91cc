"""Helpers shared by the unit tests (a plain module: tests import it by name)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from course_utils import paths
from course_utils.lessons.exercises import Exercise, Feedback


@contextmanager
def artifacts_in(folder: Path) -> Iterator[Path]:
    """``course_utils.paths.ARTIFACTS_DIR`` moved to ``folder`` while the block runs (solutions and caches under
    test write there, never over a learner's ``artifacts/``). Yields ``folder``."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(paths, "ARTIFACTS_DIR", folder)
        yield folder


def assert_wrong(exercise: Exercise, feedback: Feedback, *fragments: str) -> Feedback:
    """A wrong answer: not passed, its feedback says what is wrong (each of ``fragments``) and names none of the
    exercise's giveaways. Returns ``feedback`` for further checks."""
    text = str(feedback)
    assert not feedback.passed, f"a wrong answer passed: {text}"
    assert exercise.leaks(feedback) == [], f"feedback gives the fix away:\n{text}"
    for fragment in fragments:
        assert fragment in text, f"feedback lacks {fragment!r}:\n{text}"
    return feedback


def export_digits_cnn(path: Path) -> Path:
    """Export the committed DigitsCNN the way lesson 04 does: legacy exporter, PyTorch's weight names kept,
    a dynamic batch. Returns ``path``."""
    from course_utils.bench import export_course_model

    return export_course_model("digits_cnn", path)


def build_one_op_model(
    op: str = "MatMul",
    weight: Any = None,
    x_shape: Sequence[int | str] = ("N", 3),
    y_shape: Sequence[int | str] | None = None,
    *,
    x_name: str = "x",
    name: str = "tiny",
    opset: int = 21,
    then: Sequence[str] = (),
    **model_kwargs: Any,
) -> onnx.ModelProto:
    """``y = Op(x, w)`` with x float32 of ``x_shape`` and the weight ``w`` (default: ones of shape (3, 4)).

    ``y_shape`` defaults to what MatMul gives (``x_shape`` with its last dimension the weight's last one);
    ``then`` appends element-wise ops (``("Relu",)``) after the first node; other keywords go to make_model.
    """
    w = np.ones((3, 4), np.float32) if weight is None else np.asarray(weight, np.float32)
    if y_shape is None:
        y_shape = [*x_shape[:-1], w.shape[-1]] if op == "MatMul" else list(x_shape)
    nodes = [helper.make_node(op, [x_name, "w"], ["y" if not then else "h0"])]
    for i, follow in enumerate(then):
        nodes.append(helper.make_node(follow, [f"h{i}"], ["y" if i == len(then) - 1 else f"h{i + 1}"]))
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info(x_name, TensorProto.FLOAT, list(x_shape))],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, list(y_shape))],
        [numpy_helper.from_array(w, "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], **model_kwargs)


def need_node() -> None:
    """Skip the calling test (with the one line saying how to install them) when Node.js or the course's npm
    packages are missing; fail instead where they must be there (CI: ``COURSE_REQUIRE_BROWSER=1``, or
    ``COURSE_REQUIRE_NODE=1``), so a skipped Node.js test never passes CI."""
    import os

    from course_utils.deploy.npm import require_node
    from course_utils.errors import CourseError

    try:
        require_node()
    except CourseError as error:
        if "1" in (os.environ.get("COURSE_REQUIRE_BROWSER"), os.environ.get("COURSE_REQUIRE_NODE")):
            pytest.fail(f"{error} (COURSE_REQUIRE_BROWSER/COURSE_REQUIRE_NODE=1: Node.js tests must run here)")
        pytest.skip(str(error))
