"""Models the unit tests build, shared: one tiny graph, built one way, instead of a builder in every test file.

The builder itself is :func:`course_test_helpers.build_one_op_model` (importable, for ``parametrize`` lists);
``one_op_model`` (the same, as a fixture) builds ``y = Op(x, w)``: one node, one weight, the smallest model every helper of
course_utils accepts; the other fixtures are its common uses. Lesson tests keep their own models, which are the
lesson's exercise answers.
"""

from __future__ import annotations

from pathlib import Path

import onnx
import pytest
from course_test_helpers import OneOpModel, build_one_op_model


@pytest.fixture
def one_op_model() -> OneOpModel:
    """The factory :func:`build_one_op_model`, for tests that need the tiny graph with other sizes or ops."""
    return build_one_op_model


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
