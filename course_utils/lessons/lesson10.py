"""Exercises of lesson 10, Ship it (1): ORT format, edge and mobile, the browser, Node.js (notebooks/10_ship_browser_node_mobile.ipynb).

    from course_utils.lessons import lesson10
    lesson10.op_types.check(answer)   # feedback: what is wrong and why, never the fix
    lesson10.op_types.hint()          # hint 1; call again for a more specific one
    lesson10.op_types.solution()      # the reference solution, only when asked

Scaffolded by ``./course new-lesson``: the three exercises below are worked examples of the three kinds a lesson
mixes (the lesson's real calls, a concept, a transfer task) on a tiny model. Replace them with exercises about what
this lesson teaches, and keep the pattern: checkers test a property on inputs of their own, feedback never holds
the fix, each checker has tests with at least three plausible wrong answers (tests/test_lesson10.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from course_utils.lessons.exercises import Exercise, expect

__all__ = ["demo_model", "op_types", "output_shape", "swap_activation"]


def demo_model(activation: str = "Relu") -> onnx.ModelProto:
    """``y = activation(x @ w)``: x float32[batch, 3], w ones (3, 4), y float32[batch, 4], opset 21."""
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["h"]), helper.make_node(activation, ["h"], ["y"])],
        "demo",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])],
        [numpy_helper.from_array(np.ones((3, 4), np.float32), "w")],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


# ------------------------------------------------------------------------------- 10.1: the lesson's real calls


def _check_op_types(answer: Any) -> str:
    expect(
        isinstance(answer, list | tuple) and all(isinstance(a, str) for a in answer),
        "the answer is not a list of op type names",
        expected="a list of str",
        got=type(answer).__name__,
    )
    want = [node.op_type for node in demo_model().graph.node]
    expect(
        len(answer) == len(want),
        f"the list has {len(answer)} name(s), the graph has another number of nodes",
        why="each node of model.graph.node has one op_type",
        got=list(answer),
    )
    expect(
        sorted(answer) == sorted(want),
        "these are not the graph's op types",
        why="op_type is the operator's name as the graph stores it, case and all",
        got=list(answer),
    )
    expect(list(answer) == want, "the names are right but not in graph order", got=list(answer))
    return "the op types, in graph order"


op_types = Exercise(
    "10.1",
    "List the op types of demo_model() in graph order",
    _check_op_types,
    hints=[
        "A model's nodes are in model.graph.node, in order.",
        "Each node has an op_type field.",
        "A list comprehension over model.graph.node reading node.op_type.",
    ],
    solution_code=(
        "from course_utils.lessons.lesson10 import demo_model\n\n"
        "answer = [node.op_type for node in demo_model().graph.node]\n"
        "lesson10.op_types.check(answer)"
    ),
    giveaways=("node.op_type for",),
)


# --------------------------------------------------------------------------------------- 10.2: a concept


def _check_output_shape(answer: Any) -> str:
    expect(
        isinstance(answer, tuple) and all(isinstance(d, int) for d in answer),
        "the answer is not a tuple of ints",
        expected="a tuple like (2, 7)",
        got=repr(answer),
    )
    expect(len(answer) == 2, f"the shape has {len(answer)} dimension(s)", why="x is 2-D and MatMul keeps the rank")
    expect(answer[0] == 5, "the first dimension is not the batch you feed", why="'batch' is symbolic", got=answer)
    expect(answer[1] == 4, "the second dimension is not what MatMul with w gives", why="(n, 3) @ (3, k) is (n, k)")
    return "the batch you feed is the batch you get; MatMul sets the rest"


output_shape = Exercise(
    "10.2",
    "What shape does demo_model() give for a batch of 5?",
    _check_output_shape,
    hints=[
        "The input's first dimension is symbolic: it takes any batch.",
        "MatMul of (n, 3) and (3, k) gives (n, k); an activation keeps the shape.",
        "Run it: ort.InferenceSession(demo_model().SerializeToString()) on np.ones((5, 3), np.float32).",
    ],
    solution_code=(
        "import numpy as np\n"
        "import onnxruntime as ort\n\n"
        "from course_utils.lessons.lesson10 import demo_model\n\n"
        "session = ort.InferenceSession(demo_model().SerializeToString(), providers=['CPUExecutionProvider'])\n"
        "(y,) = session.run(None, {'x': np.ones((5, 3), np.float32)})\n"
        "lesson10.output_shape.check(tuple(y.shape))"
    ),
    giveaways=("(5, 4)",),
)


# ---------------------------------------------------------------------------------- 10.3: a transfer task


def _check_swap(model: Any) -> str:
    expect(isinstance(model, onnx.ModelProto), "the answer is not an onnx.ModelProto", got=type(model).__name__)
    onnx.checker.check_model(model, full_check=True)
    ops = [node.op_type for node in model.graph.node]
    expect("Relu" not in ops, "the model still has a Relu", got=ops)
    expect(ops == ["MatMul", "Sigmoid"], "the nodes are not the demo's MatMul followed by a Sigmoid", got=ops)
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    x = np.full((2, 3), -1.0, np.float32)
    (y,) = session.run(None, {session.get_inputs()[0].name: x})
    expect(
        bool(np.allclose(y, 1 / (1 + np.exp(3.0)), atol=1e-6)),
        "the model does not compute sigmoid(x @ w) on a test batch",
        why="the weights stay ones (3, 4); only the activation changes",
    )
    return "MatMul then Sigmoid, checked and run"


swap_activation = Exercise(
    "10.3",
    "Build demo_model() with a Sigmoid in place of the Relu",
    _check_swap,
    hints=[
        "Copy the model and edit its graph, or build it again with onnx.helper.",
        "The activation is the graph's second node; its op_type is a plain field.",
        "demo_model(activation=...) builds the graph with any one-input activation.",
    ],
    solution_code=(
        "from course_utils.lessons.lesson10 import demo_model\n\n"
        'model = demo_model(activation="Sigmoid")\n'
        "lesson10.swap_activation.check(model)"
    ),
    giveaways=('activation="Sigmoid"',),
)
