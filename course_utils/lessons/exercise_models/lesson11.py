"""The models lesson 11's exercises are about (re-exported by :mod:`course_utils.lessons.lesson11`): a small scoring
model, the same model made slow on purpose, the edge model of 11.4, and what they answer, computed in numpy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ...paths import artifact_path

__all__ = [
    "BIAS",
    "WEIGHTS",
    "edge_model_path",
    "example_features",
    "exercise_model",
    "exercise_model_path",
    "expected_scores",
    "save_model",
    "slow_model",
]

#: The exercise model's weights and bias (its numbers are known, so checkers can compute its answers).
WEIGHTS = np.linspace(-1.0, 1.0, 15, dtype=np.float32).reshape(5, 3)
BIAS = np.array([0.25, -0.5, 0.1], np.float32)


def exercise_model(*, opset: int = 17, ir_version: int = 8, drift: float = 0.0) -> onnx.ModelProto:
    """The lesson's exercise model: ``features`` float32[batch, 5] -> MatMul, Add, Sigmoid -> ``scores``
    float32[batch, 3]. ``drift`` is added to every weight (a retrained model whose numbers moved)."""
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["features", "w"], ["h"]),
            helper.make_node("Add", ["h", "b"], ["logits"]),
            helper.make_node("Sigmoid", ["logits"], ["scores"]),
        ],
        "scores",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 5])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(WEIGHTS + np.float32(drift), "w"), numpy_helper.from_array(BIAS, "b")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=ir_version)


def slow_model(trips: int = 40_000) -> onnx.ModelProto:
    """The exercise model made slow on purpose: its scores go through a ``Loop`` of ``trips`` iterations that each
    multiply by one (same numbers; each iteration costs a microsecond or two, so the default takes thousands of times
    as long as the exercise model)."""
    model = exercise_model()
    graph = model.graph
    graph.node[-1].output[0] = "fast_scores"
    body = helper.make_graph(
        [helper.make_node("Identity", ["cond_in"], ["cond_out"]), helper.make_node("Mul", ["v_in", "one"], ["v_out"])],
        "times_one",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, None),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, None),
        ],
    )
    graph.initializer.extend(
        [
            numpy_helper.from_array(np.array(trips, np.int64), "trips"),
            numpy_helper.from_array(np.array(True), "go"),
            numpy_helper.from_array(np.ones(3, np.float32), "one"),
        ]
    )
    graph.node.append(helper.make_node("Loop", ["trips", "go", "fast_scores"], ["scores"], body=body))
    return model


def save_model(model: onnx.ModelProto, name: str) -> Path:
    """``model`` saved as ``artifacts/11/<name>``; returns the path."""
    path = artifact_path(name, lesson="11")
    onnx.save(model, path)
    return path


def exercise_model_path() -> Path:
    """:func:`exercise_model` saved to ``artifacts/11/exercise_scores.onnx``; returns the path."""
    return save_model(exercise_model(), "exercise_scores.onnx")


def edge_model_path() -> Path:
    """Exercise 11.4's model as it came out of the exporter (opset 21, IR 10) at ``artifacts/11/edge_scores.onnx``."""
    return save_model(exercise_model(opset=21, ir_version=10), "edge_scores.onnx")


def example_features(batch: int, seed: int) -> np.ndarray:
    """``batch`` rows of the exercise model's 5 features, seeded."""
    return np.random.default_rng(seed).standard_normal((batch, 5)).astype(np.float32)


def expected_scores(x: np.ndarray, drift: float = 0.0) -> np.ndarray:
    """What the exercise model (with ``drift``) answers for ``x``, computed in numpy."""
    return np.asarray(1 / (1 + np.exp(-(x @ (WEIGHTS + np.float32(drift)) + BIAS))), np.float32)
