"""Exercises of lesson 08 (opsets and versions): predict a converted node from a schema diff, find the node that
breaks a downgrade of another model and why, make a model run on ONNX Runtime 1.14 and prove it, and (transfer)
do the same for a scikit-learn pipeline.

    from course_utils.lessons import lesson08
    lesson08.predict_node.check(model)
    lesson08.predict_node.hint()        # again for a more specific one
    lesson08.predict_node.solution()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnx.defs
from onnx import TensorProto, helper, numpy_helper

from course_utils.lessons.exercises import Exercise, NotYet, expect
from course_utils.onnxfile.graph import graph_inputs
from course_utils.paths import relative_to_repo

__all__ = [
    "DOWNGRADE_TARGET",
    "TARGET_ORT",
    "breaking_node",
    "digits_cnn_at",
    "head_model",
    "old_runtime",
    "predict_node",
    "sklearn_old_runtime",
    "sklearn_pipeline",
    "squeeze_model",
]

#: The older ONNX Runtime release exercises 08.3 and 08.4 target.
TARGET_ORT = "1.14"


def squeeze_model() -> onnx.ModelProto:
    """The opset-11 model of exercise 08.1: ``y = Squeeze(x, axes=[0, 2])`` for ``x`` of shape [1, 3, 1, 4]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])
    node = helper.make_node("Squeeze", ["x"], ["y"], name="squeeze", axes=[0, 2])
    graph = helper.make_graph([node], "squeeze11", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 11)], ir_version=6)


def _load(answer: Any, what: str) -> onnx.ModelProto:
    expect(answer is not None, f"no answer yet: pass {what}")
    expect(
        isinstance(answer, onnx.ModelProto | bytes | bytearray | str | os.PathLike),
        f"pass {what} (an onnx.ModelProto or the path of a .onnx file)",
        got=type(answer).__name__,
    )
    if isinstance(answer, str | os.PathLike) and not Path(answer).exists():
        raise NotYet(f"there is no file at {relative_to_repo(answer)} yet", why="save the model there first")
    from course_utils.errors import CourseError
    from course_utils.onnxfile.modelio import load_model

    try:
        return load_model(answer)
    except CourseError as error:
        raise NotYet(str(error)) from None


def _opset(model: onnx.ModelProto) -> int | None:
    return next((int(o.version) for o in model.opset_import if o.domain in ("", "ai.onnx")), None)


def _constant_value(model: onnx.ModelProto, name: str) -> np.ndarray | None:
    for tensor in model.graph.initializer:
        if tensor.name == name:
            return numpy_helper.to_array(tensor)
    for node in model.graph.node:
        if node.op_type == "Constant" and list(node.output) == [name]:
            for attribute in node.attribute:
                if attribute.name == "value":
                    return numpy_helper.to_array(attribute.t)
    return None


def _run(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return list(session.run(None, feed))
    except Exception as error:  # ORT raises several pybind types for load and run problems
        raise NotYet("ONNX Runtime could not run the model", got=str(error).strip().splitlines()[0][:300]) from None


# ------------------------------------------------------------------------------------------------- 08.1


def _check_predict_node(answer: Any) -> str:
    model = _load(answer, "your opset-13 version of squeeze_model()")
    expect(
        _opset(model) == 13,
        "the model does not import ai.onnx opset 13",
        why="the prediction is about the node as opset 13 defines it",
        expected="opset 13",
        got=f"opset {_opset(model)}",
    )
    squeezes = [n for n in model.graph.node if n.op_type == "Squeeze"]
    expect(len(squeezes) == 1, "the graph needs exactly one Squeeze node", got=f"{len(squeezes)} Squeeze nodes")
    node = squeezes[0]
    attributes = [a.name for a in node.attribute]
    expect(
        not attributes,
        "the Squeeze node carries an attribute that Squeeze-13 does not define",
        why="onnx.checker rejects an attribute the operator's schema at that opset does not have",
        expected="no attributes on Squeeze",
        got=", ".join(attributes),
    )
    expect(
        len(node.input) == 2 and node.input[1] != "",
        "the Squeeze node has no second input, so it would squeeze every size-1 dimension",
        why="without axes, Squeeze-13 removes all dimensions of size 1",
        expected="two inputs",
        got=f"{len(node.input)} input(s)",
    )
    axes = _constant_value(model, node.input[1])
    expect(
        axes is not None,
        f"the second input '{node.input[1]}' is not a constant of the graph",
        why="the converter keeps what the attribute held as a constant; a graph input would have to be fed",
        expected="a constant tensor",
        got="a value computed or fed at run time",
    )
    assert axes is not None
    expect(
        axes.dtype == np.int64,
        "the second input has the wrong element type",
        why="Squeeze-13's schema types that input as tensor(int64)",
        expected="int64",
        got=str(axes.dtype),
    )
    rank = 4  # squeeze_model()'s input is [1, 3, 1, 4]; Squeeze-13 also accepts axes counted from the end
    listed = axes.reshape(-1).tolist()
    normalized = sorted(a % rank if -rank <= a < rank else a for a in listed)
    expect(
        normalized == [0, 2],
        "the second input does not hold the axes the opset-11 node squeezed",
        why="the converted node must compute the same thing: the same two dimensions of the rank-4 input, each "
        "once (a negative axis counts from the end)",
        got=str(listed),
    )
    from course_utils.onnxfile.verify import check_model

    report = check_model(model)
    failed = [f"{s.name}: {s.detail}" for s in report.steps if not s.passed]
    expect(not failed, "the ONNX checker rejects the model", got="; ".join(failed))
    x = np.arange(12, dtype=np.float32).reshape(1, 3, 1, 4)
    (y,) = _run(model, {"x": x})
    expect(y.shape == (3, 4) and np.array_equal(y, x.reshape(3, 4)), "the output differs from the original's")
    return "Squeeze-13 takes its axes as an int64 input: your hand-written node matches what the converter writes"


predict_node = Exercise(
    "08.1",
    "Read a schema diff and predict the converted node",
    _check_predict_node,
    hints=[
        "Print schema_diff('Squeeze', 11, 13) (or compare onnx.defs.get_schema('Squeeze', 11) with version 13): "
        "one line says what happened to the attribute.",
        "At opset 13 the node has two inputs: the data, and a tensor whose name you choose. That tensor must exist "
        "in the graph as a constant (an initializer is the simplest).",
        "helper.make_node('Squeeze', ['x', 'axes'], ['y']) plus numpy_helper.from_array(np.array([0, 2], "
        "np.int64), 'axes') in the graph's initializers, and opset_imports=[helper.make_opsetid('', 13)].",
    ],
    solution_code="""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 4])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])
axes = numpy_helper.from_array(np.array([0, 2], np.int64), "axes")
node = helper.make_node("Squeeze", ["x", "axes"], ["y"], name="squeeze")
solution_squeeze13 = helper.make_model(
    helper.make_graph([node], "squeeze13", [x], [y], [axes]),
    opset_imports=[helper.make_opsetid("", 13)],
    ir_version=7,
)
lesson08.predict_node.check(solution_squeeze13)
""",
    giveaways=("numpy_helper.from_array", "initializer", "make_opsetid"),
)


# ------------------------------------------------------------------------------------------------- 08.2

_CAUSES = ("no adapter", "operator does not exist")

#: The opset exercise 08.2 converts ``head_model()`` down to (the newest onnxruntime 1.12 implements).
DOWNGRADE_TARGET = 17


def head_model() -> onnx.ModelProto:
    """The opset-20 model of exercise 08.2: a small classifier head ``Softmax(MatMul(Gelu(MatMul(x, w1)), w2))``."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 8])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])
    w1 = numpy_helper.from_array(np.linspace(-1, 1, 64, dtype=np.float32).reshape(8, 8), "w1")
    w2 = numpy_helper.from_array(np.linspace(1, -1, 32, dtype=np.float32).reshape(8, 4), "w2")
    nodes = [
        helper.make_node("MatMul", ["x", "w1"], ["h"], name="dense1"),
        helper.make_node("Gelu", ["h"], ["a"], name="activation"),
        helper.make_node("MatMul", ["a", "w2"], ["logits"], name="dense2"),
        helper.make_node("Softmax", ["logits"], ["y"], name="probabilities", axis=-1),
    ]
    graph = helper.make_graph(nodes, "head20", [x], [y], [w1, w2])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9)


def digits_cnn_at(opset: int) -> onnx.ModelProto:
    """The trained DigitsCNN exported with the legacy exporter at ``opset`` (batch 1, input 'x'): the course
    model registry's export, cached per opset. Imports torch."""
    from course_utils.models import registry

    options = registry.ExportOptions(
        opset=opset, constant_folding=True, dynamic_batch=False, input_name="x", output_name=None
    )
    return onnx.load(registry.onnx_path("digits_cnn", options))


def _exists_at(op_type: str, opset: int) -> bool:
    try:
        onnx.defs.get_schema(op_type, opset)
    except onnx.defs.SchemaError:
        return False
    return True


def _check_breaking_node(op_type: Any, version: Any, cause: Any) -> str:
    from course_utils.versions.opsets import conversion_plan

    expect(op_type is not None, "no answer yet: fill in op_type, version and cause")
    target = DOWNGRADE_TARGET
    plan = conversion_plan(head_model(), target)
    failing = {(n.op_type, int(n.old.rsplit("-", 1)[1])): n for n in plan.failing}
    failing_ops = {op for op, _ in failing}
    ops = {n.op_type for n in plan.nodes}
    expect(
        isinstance(op_type, str) and op_type in ops,
        "that is not an operator of head_model()'s graph",
        why="the failure comes from one of the model's own nodes, not from the DigitsCNN of section 4",
        expected="one of the op_type values in head20.graph.node",
        got=repr(op_type),
    )
    expect(
        op_type in failing_ops,
        f"every {op_type} node converts from opset 20 to {target} without trouble",
        why="the converter only fails on a node whose definition it cannot move",
        got=op_type,
    )
    expect(
        isinstance(version, int) and (op_type, version) in failing,
        "that is the operator, but the model does not use that definition of it",
        why="for each operator, a model uses the newest definition its imported opset allows (Op-N: N is its "
        "since_version)",
        expected="the opset in which the definition the model uses appeared",
        got=f"version {version!r}",
    )
    expect(
        cause in _CAUSES,
        f"cause must be one of {', '.join(repr(c) for c in _CAUSES)}",
        got=repr(cause),
    )
    right = "no adapter" if _exists_at(op_type, target) else "operator does not exist"
    expect(
        cause == right,
        f"that is not why this node cannot move to opset {target}",
        why=f"ask onnx.defs.get_schema(op_type, {target}) whether any definition exists at the target, and read "
        "the converter's own message",
        got=repr(cause),
    )
    schema = onnx.defs.get_schema(op_type, version)
    ways = [f"re-export the model at opset {target}", f"run it on a runtime with opset >= {version}"]
    # onnx's stubs lack these two properties of OpSchema (they exist at run time).
    if getattr(schema, "has_function", False) or getattr(schema, "has_context_dependent_function", False):
        ways.insert(
            0, f"expand the node into older operators ({op_type}-{version}'s schema defines it as a function of them)"
        )
    return (
        f"{op_type}-{version} has no definition at opset {target} or before, so the converter has no adapter to "
        f"reach it. Ways out: {'; '.join(ways)}"
    )


breaking_node = Exercise(
    "08.2",
    "Find the node that breaks a downgrade, and why",
    _check_breaking_node,
    hints=[
        f"Run onnx.version_converter.convert_version(head20, {DOWNGRADE_TARGET}) and read the last line of the "
        f"error; conversion_plan(head20, {DOWNGRADE_TARGET}) lists every node. The message is not the one of "
        "section 4.",
        "The message names the operator but not its definition: onnx.defs.get_schema(op, 20).since_version gives "
        f"N. Then ask onnx.defs.get_schema(op, {DOWNGRADE_TARGET}): does any definition exist there?",
        "It is the activation between the two MatMul nodes: it first appeared in opset 20, so there is nothing at "
        f"opset {DOWNGRADE_TARGET} for an adapter to reach.",
    ],
    solution_code="""
import re

import onnx.defs
import onnx.version_converter

try:
    onnx.version_converter.convert_version(head20, 17)
except RuntimeError as error:
    solution_message = str(error)
solution_op = re.search(r"(?:of|for) (\\w+)(?: exists)?$", solution_message.strip()).group(1)
# The definition a model importing opset 20 uses appeared in opset since_version:
solution_version = onnx.defs.get_schema(solution_op, 20).since_version
try:
    onnx.defs.get_schema(solution_op, 17)  # any definition at the target at all?
    solution_cause = "no adapter"
except onnx.defs.SchemaError:
    solution_cause = "operator does not exist"
lesson08.breaking_node.check(solution_op, solution_version, solution_cause)
""",
    giveaways=("Gelu", "activation between", "first appeared in opset"),
)


# ------------------------------------------------------------------------------------------------- 08.3


def _check_old_runtime(answer: Any) -> str:
    from course_utils.models.data import load_digits, load_digits_cnn
    from course_utils.versions.compat import check_compatibility

    model = _load(answer, "the path of your model for onnxruntime 1.14")
    report = check_compatibility(model, TARGET_ORT)
    expect(
        report.compatible,
        f"the compatibility checker says onnxruntime {TARGET_ORT} cannot run it",
        why=f"onnxruntime {TARGET_ORT} refuses a file newer than it reads, before running anything",
        expected="compatible",
        got="; ".join(r.what for r in report.reasons),
    )
    x = load_digits().x_test[:12]  # a dozen digits, one at a time: the export may fix the batch to 1
    import torch

    with torch.no_grad():
        reference = load_digits_cnn()(torch.from_numpy(x)).numpy()
    inputs = [v.name for v in graph_inputs(model.graph)]
    expect(len(inputs) == 1, "the model should have one input, the image batch", got=", ".join(inputs))
    actual = np.concatenate([_run(model, {inputs[0]: x[i : i + 1]})[0] for i in range(len(x))])
    expect(
        actual.shape == reference.shape and bool(np.allclose(actual, reference, rtol=1e-4, atol=1e-5)),
        "the model's outputs differ from the trained DigitsCNN's",
        why="the file must still be the same network",
        got=f"max abs err {float(np.max(np.abs(actual - reference))) if actual.shape == reference.shape else 'n/a'}",
    )
    return (
        f"check_compatibility(..., '{TARGET_ORT}') says compatible (IR {model.ir_version}, opset {_opset(model)}), "
        "and the numbers are the DigitsCNN's"
    )


old_runtime = Exercise(
    "08.3",
    "Make the model run on onnxruntime 1.14, and prove it",
    _check_old_runtime,
    hints=[
        f"Run check_compatibility(path, '{TARGET_ORT}') on the file you have: each line is one number that is too "
        "new. There are two numbers to fix.",
        "convert_version changes the opset but leaves ir_version alone, and lowering the IR number by hand leaves "
        "the newer fields in the file. An exporter that writes both numbers for the opset you ask is the robust way.",
        "torch.onnx.export(load_digits_cnn(), (torch.zeros(1, 1, 8, 8),), path, opset_version=18, dynamo=False) "
        "writes opset 18 and IR 8.",
    ],
    solution_code="""
import warnings

import onnx
import torch

from course_utils import load_digits_cnn
from course_utils.paths import artifact_path

solution_path = artifact_path("solution_digits_ort114.onnx", lesson="08")
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # the legacy exporter says it is deprecated
    torch.onnx.export(load_digits_cnn(), (torch.zeros(1, 1, 8, 8),), solution_path, opset_version=18, dynamo=False)
# onnxruntime 1.14's published limits: IR version 8, ai.onnx opset 18, ai.onnx.ml opset 3
solution_model = onnx.load(solution_path)
onnx.checker.check_model(solution_model, full_check=True)
solution_limits = {"": 18, "ai.onnx": 18, "ai.onnx.ml": 3}
assert solution_model.ir_version <= 8, solution_model.ir_version
assert all(o.version <= solution_limits.get(o.domain, 0) for o in solution_model.opset_import)
lesson08.old_runtime.check(solution_path)
""",
    giveaways=("opset_version=18", "dynamo=False", "opset_version"),
)


# ------------------------------------------------------------------------------------------------- 08.4


def sklearn_pipeline() -> Any:
    """The scikit-learn pipeline of exercise 08.4 (scaler + decision tree on the flattened digits), fitted."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    from course_utils.models.data import load_digits

    digits = load_digits()
    pipeline = make_pipeline(StandardScaler(), DecisionTreeClassifier(max_depth=6, random_state=0))
    return pipeline.fit(digits.flat(digits.x_train), digits.y_train)


def _check_sklearn_old_runtime(answer: Any, pipeline: Any) -> str:
    from course_utils.models.data import load_digits
    from course_utils.versions.compat import check_compatibility

    model = _load(answer, "the path of your converted pipeline")
    report = check_compatibility(model, TARGET_ORT)
    expect(
        report.compatible,
        f"the compatibility checker says onnxruntime {TARGET_ORT} cannot run it",
        why="the limits apply to every domain the file imports, whichever converter wrote it",
        expected="compatible",
        got="; ".join(r.what for r in report.reasons),
    )
    digits = load_digits()
    x = digits.flat(digits.x_test)
    inputs = [v.name for v in graph_inputs(model.graph)]
    expect(len(inputs) == 1, "the model should have one input, the flattened images", got=", ".join(inputs))
    outputs = _run(model, {inputs[0]: x})
    labels = np.asarray(outputs[0]).reshape(-1)
    expected = pipeline.predict(x)
    agree = float(np.mean(labels == expected))
    expect(
        agree == 1.0,
        "the converted model's labels differ from the pipeline's predictions",
        why="the file must still be the same pipeline",
        got=f"{agree:.1%} of the test images agree",
    )
    return f"compatible with onnxruntime {TARGET_ORT}, and all {len(x)} test labels equal the pipeline's"


sklearn_old_runtime = Exercise(
    "08.4",
    "Transfer: a scikit-learn pipeline for onnxruntime 1.14",
    _check_sklearn_old_runtime,
    hints=[
        "Convert it with skl2onnx's to_onnx(pipeline, x[:1]) first and run check_compatibility on the result: the "
        "same two numbers as in 08.3, but this converter is not torch.",
        "skl2onnx chooses the opsets from its target_opset argument (an int, or a dict per domain), and writes the "
        "IR version that goes with them.",
        "to_onnx(pipeline, x[:1], target_opset={'': 18, 'ai.onnx.ml': 3}), then onnx.save it and check it.",
    ],
    solution_code="""
import onnx
from skl2onnx import to_onnx

from course_utils import load_digits
from course_utils.paths import artifact_path

solution_digits = load_digits()
solution_x = solution_digits.flat(solution_digits.x_test)
solution_onnx = to_onnx(pipeline, solution_x[:1], target_opset={"": 18, "ai.onnx.ml": 3})
solution_sk_path = artifact_path("solution_pipeline_ort114.onnx", lesson="08")
onnx.save(solution_onnx, solution_sk_path)
lesson08.sklearn_old_runtime.check(solution_sk_path, pipeline)
""",
    giveaways=("target_opset",),
)
