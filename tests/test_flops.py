"""The FLOP counter against counts worked out by hand (FLOPs = 2 x multiply-accumulates)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import export_digits_cnn
from onnx import TensorProto, helper, numpy_helper

from course_utils.errors import ModelFileNotFoundError
from course_utils.onnxfile.flops import conv_flops, count_flops, gemm_flops, matmul_flops


def one_node(node: onnx.NodeProto, inputs: dict[str, list], weights: dict[str, tuple[int, ...]]) -> onnx.ModelProto:
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs.items()],
        [helper.make_tensor_value_info(node.output[0], TensorProto.FLOAT, None)],
        [numpy_helper.from_array(np.zeros(s, np.float32), n) for n, s in weights.items()],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def conv(x: list, w: tuple[int, ...], **attrs) -> onnx.ModelProto:
    return one_node(helper.make_node("Conv", ["x", "w"], ["y"], **attrs), {"x": x}, {"w": w})


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        # 1x3x8x8, 4 filters 3x3, pad 1: out 4x8x8; each output 3*9 MACs -> 2*4*64*27
        (conv([1, 3, 8, 8], (4, 3, 3, 3), pads=[1, 1, 1, 1]), 2 * 4 * 64 * 27),
        # stride 2: out 4x4x4, a quarter of the work
        (conv([1, 3, 8, 8], (4, 3, 3, 3), pads=[1, 1, 1, 1], strides=[2, 2]), 2 * 4 * 16 * 27),
        # no padding: out 6x6
        (conv([1, 3, 8, 8], (4, 3, 3, 3)), 2 * 4 * 36 * 27),
        # grouped (group 2): each of 8 outputs sees 4/2 = 2 input channels
        (conv([1, 4, 8, 8], (8, 2, 3, 3), pads=[1, 1, 1, 1], group=2), 2 * 8 * 64 * 2 * 9),
        # depthwise, stride 2: each output channel sees one input channel, 4x4 positions
        (conv([1, 4, 8, 8], (4, 1, 3, 3), pads=[1, 1, 1, 1], group=4, strides=[2, 2]), 2 * 4 * 16 * 9),
        # batch 3 triples everything
        (conv([3, 3, 8, 8], (4, 3, 1, 1)), 3 * 2 * 4 * 64 * 3),
        # Gemm: (2x5) @ (5x3) with B stored transposed
        (one_node(helper.make_node("Gemm", ["a", "b"], ["y"], transB=1), {"a": [2, 5]}, {"b": (3, 5)}), 2 * 2 * 5 * 3),
        # Gemm with A transposed: A stored (5x2) means M=2, K=5
        (one_node(helper.make_node("Gemm", ["a", "b"], ["y"], transA=1), {"a": [5, 2]}, {"b": (5, 7)}), 2 * 2 * 5 * 7),
        # batched MatMul broadcasting (2,3,4,5) @ (5,6)
        (
            one_node(helper.make_node("MatMul", ["a", "b"], ["y"]), {"a": [2, 3, 4, 5]}, {"b": (5, 6)}),
            2 * 6 * 4 * 5 * 6,
        ),
        # vector @ matrix
        (one_node(helper.make_node("MatMul", ["a", "b"], ["y"]), {"a": [5]}, {"b": (5, 6)}), 2 * 5 * 6),
    ],
)
def test_hand_computed_counts(model: onnx.ModelProto, expected: int) -> None:
    report = count_flops(model)
    assert report.total == expected
    assert report.unknown == ()


def test_symbolic_batch_is_set() -> None:
    model = conv(["N", 3, 8, 8], (4, 3, 3, 3), pads=[1, 1, 1, 1])
    assert count_flops(model, batch=5).total == 5 * count_flops(model, batch=1).total


def test_digits_cnn_by_hand(tmp_path: Path) -> None:
    path = export_digits_cnn(tmp_path / "digits.onnx")
    conv1 = 2 * 16 * 64 * (1 * 9)  # 16 filters on 1 channel, 8x8 output
    conv2 = 2 * 32 * 64 * (16 * 9)
    fc1, fc2 = 2 * 512 * 64, 2 * 64 * 10
    report = count_flops(path, batch=2)
    assert report.total == 2 * (conv1 + conv2 + fc1 + fc2)
    assert report.by_op_type() == {"Conv": 2 * (conv1 + conv2), "Gemm": 2 * (fc1 + fc2)}
    assert "BatchNormalization" in report.uncounted and "Relu" in report.uncounted
    text = str(report)
    assert "Conv" in text and "total" in text
    assert "<table" in report._repr_html_() and "FLOPs per run at batch" in report._repr_html_()


def test_formulas() -> None:
    assert conv_flops((1, 8, 4, 4), in_channels=4, kernel_shape=(3, 3), group=4) == 2 * 8 * 16 * 1 * 9
    assert gemm_flops(2, 3, 4) == 48
    assert matmul_flops((3,), (3,)) == 6
    with pytest.raises(ValueError, match="multiple of group"):
        conv_flops((1, 8, 4, 4), in_channels=3, kernel_shape=(3, 3), group=2)
    with pytest.raises(ValueError, match="do not match"):
        matmul_flops((2, 3), (4, 5))


def test_bad_input(tmp_path: Path) -> None:
    with pytest.raises(ModelFileNotFoundError):
        count_flops(tmp_path / "missing.onnx")
    with pytest.raises(ValueError, match="batch"):
        count_flops(conv([1, 3, 8, 8], (4, 3, 3, 3)), batch=0)
