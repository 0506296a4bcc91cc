"""Models the unit tests build, shared: one tiny graph, built one way, instead of a builder in every test file.

The builder is :func:`course_test_helpers.build_one_op_model` (``y = Op(x, w)``: one node, one weight, the
smallest model every helper of course_utils accepts), importable where a test needs other sizes or ops or builds
models inside ``parametrize`` lists; these fixtures are its common uses. Lesson tests keep their own models, which
are the lessons' exercise answers.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from course_test_helpers import build_one_op_model


@pytest.fixture
def tiny_model() -> onnx.ModelProto:
    """``y = x @ w``: x float32[N, 3], w ones (3, 4), y float32[N, 4]; opset 21."""
    return build_one_op_model()


@pytest.fixture
def tiny_model_file(tmp_path: Path, tiny_model: onnx.ModelProto) -> Path:
    """:func:`tiny_model` saved as ``tiny.onnx`` in the test's temporary folder."""
    path = tmp_path / "tiny.onnx"
    onnx.save(tiny_model, str(path))
    return path


@pytest.fixture
def textproto_named_onnx(tmp_path: Path, tiny_model: onnx.ModelProto) -> Path:
    """:func:`tiny_model` saved in protobuf's text format, under a binary name (``text.onnx``)."""
    path = tmp_path / "text.onnx"
    onnx.save(tiny_model, str(path), format="textproto")
    return path
