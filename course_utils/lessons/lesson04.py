"""Exercises of lesson 04 (inside a .onnx file): build a graph by hand, count the weight bytes each operator
type reads (a transfer task: a graph walk no demo cell does), add metadata, cut the classifier head out.

    from course_utils.lessons import lesson04
    lesson04.build_graph.check(model)
    lesson04.build_graph.hint()        # .hint(2) for more
    lesson04.build_graph.solution()

Exercises 04.2-04.4 work on the DigitsCNN that the lesson exports to ``artifacts/04/digits_cnn.onnx``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from course_utils.lessons._answers import expect_valid_model, load_answer
from course_utils.lessons.exercises import Exercise, NotYet, expect
from course_utils.onnxfile.graph import dtype_name, graph_inputs, shape, shape_text
from course_utils.onnxfile.render import measurement

__all__ = ["REQUIRED_METADATA", "add_metadata", "build_graph", "bytes_per_op", "cut_classifier"]

#: The metadata exercise 04.3 asks for: exact values, except ``author`` which may be any non-empty text.
REQUIRED_METADATA: dict[str, str | None] = {
    "labels": "0,1,2,3,4,5,6,7,8,9",
    "dataset": "scikit-learn digits 8x8",
    "author": None,
}


def _load_answer(answer: Any) -> onnx.ModelProto:
    """The learner's model from a path, bytes or ModelProto; a missing or broken file is feedback, not a crash."""
    return load_answer(
        answer,
        wrong_type="pass an onnx.ModelProto or the path of a .onnx file",
        missing="no answer yet: pass your model (an onnx.ModelProto or the path you saved it to)",
    )


def _run_ort(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        outputs: list[np.ndarray] = session.run(None, feed)
        return outputs
    except Exception as e:  # ONNX Runtime reports load and run problems as several exception types
        first = str(e).strip().splitlines()[0]
        raise NotYet(
            "ONNX Runtime could not run the model",
            why="a model must import an opset and IR version this ONNX Runtime knows (onnx.helper picks the newest "
            "the onnx package knows, which can be newer)",
            got=first[:300],
        ) from None


def _graph_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    return graph_inputs(model.graph)


# ------------------------------------------------------------------------------------------ 04.1


def _check_build_graph(answer: Any) -> str:
    model = _load_answer(answer)
    inputs = _graph_inputs(model)
    expect(
        [v.name for v in inputs] == ["x"],
        "the model needs exactly one input, named 'x'",
        expected=["x"],
        why="a caller feeds the model by input name; constants are not inputs",
        got=[v.name for v in inputs],
    )
    x_type = inputs[0].type.tensor_type
    expect(
        x_type.elem_type == onnx.TensorProto.FLOAT,
        "'x' must be float32",
        expected="float32 (TensorProto.FLOAT)",
        got=dtype_name(x_type.elem_type),
    )
    dims = shape(inputs[0].type) or ()
    expect(
        len(dims) == 2 and dims[1] == 3 and not isinstance(dims[0], int),
        "'x' must have shape [N, 3]: a dynamic batch, then 3 values",
        expected="[N, 3]",
        why="any number of rows must work, so the first dimension needs a name instead of a number",
        got=shape_text(dims),
    )
    outputs = [v.name for v in model.graph.output]
    expect(outputs == ["y"], "the model needs exactly one output, named 'y'", expected=["y"], got=outputs)
    ops = sorted(n.op_type for n in model.graph.node)
    expect(
        "Constant" not in ops,
        "the constants 2 and 1 should be initializers, not Constant nodes",
        why="the exercise practises initializers, the way a file stores weights",
        got=ops,
    )
    expect(
        ops == ["Add", "Mul"],
        "build it from one Mul and one Add node",
        expected=["Add", "Mul"],
        got=ops,
    )
    expect(
        len(model.graph.initializer) >= 1,
        "the constants 2 and 1 should be initializers",
        expected="initializers holding 2 and 1",
        got="no initializers",
    )
    expect_valid_model(
        model, "every node input must be a graph input, an initializer, or an earlier node's output; shapes must agree"
    )
    from onnx.reference import ReferenceEvaluator

    for batch in (1, 5):
        x = np.linspace(-2.0, 2.0, batch * 3, dtype=np.float32).reshape(batch, 3)
        want = 2 * x + 1
        (ref,) = ReferenceEvaluator(model).run(None, {"x": x})
        ok = np.asarray(ref).shape == want.shape and np.allclose(ref, want, atol=1e-6)
        expect(
            ok,
            "y is not 2 * x + 1",
            expected=want[0].tolist(),
            why="onnx's reference evaluator runs your graph by the operator specifications",
            got=np.asarray(ref)[0].tolist(),
        )
        (got,) = _run_ort(model, {"x": x})
        expect(
            np.allclose(got, want, atol=1e-6),
            "ONNX Runtime gives other numbers than the reference evaluator",
            got=got[0].tolist(),
        )
    return "y = 2 * x + 1, the same in onnx's reference evaluator and ONNX Runtime, for batch sizes 1 and 5"


build_graph = Exercise(
    "04.1",
    "Build y = 2 * x + 1 by hand",
    _check_build_graph,
    hints=[
        "Section 5 built a model with the same parts: value infos for the input and output, initializers, nodes, "
        "a graph, a model. Which of them does y = 2 * x + 1 need, and how many of each?",
        "make_tensor_value_info for 'x' and 'y' (shape ['N', 3]), two float32 scalar initializers "
        "(numpy_helper.from_array(np.array(2.0, dtype=np.float32), 'two')), a Mul node then an Add node.",
        "make_model(graph, opset_imports=[helper.make_opsetid('', 21)], ir_version=10) pins versions every "
        "recent ONNX Runtime reads; nodes: Mul(x, two) -> twice, Add(twice, one) -> y.",
    ],
    solution_code="""
import numpy as np
from onnx import TensorProto, helper, numpy_helper

x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])
y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
two = numpy_helper.from_array(np.array(2.0, dtype=np.float32), "two")
one = numpy_helper.from_array(np.array(1.0, dtype=np.float32), "one")
nodes = [helper.make_node("Mul", ["x", "two"], ["twice"]), helper.make_node("Add", ["twice", "one"], ["y"])]
graph = helper.make_graph(nodes, "affine", [x], [y], [two, one])
answer = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)
lesson04.build_graph.check(answer)
""",
    giveaways=("make_node(", "from_array(", "make_opsetid", "make_tensor_value_info("),
)


# ------------------------------------------------------------------------------------------ 04.2


def _initializer_bytes_per_op(model: onnx.ModelProto) -> dict[str, int]:
    """Bytes of initializers read by each operator type (an initializer counts once per operator type)."""
    sizes = {t.name: numpy_helper.to_array(t).nbytes for t in model.graph.initializer}
    seen: dict[str, set[str]] = {}
    for node in model.graph.node:
        seen.setdefault(node.op_type, set()).update(name for name in node.input if name in sizes)
    return {op: sum(sizes[name] for name in names) for op, names in seen.items() if names}


def _check_bytes_per_op(model_or_path: Any, answer: Any) -> str:
    model = _load_answer(model_or_path)
    expect(
        [v.name for v in _graph_inputs(model)] == ["image"] and len(model.graph.initializer) == 16,
        "pass the lesson's digits_cnn.onnx (section 1's export) as the first argument",
        why="the check computes the right numbers from the model you pass",
        got=f"{len(model.graph.initializer)} initializers",
    )
    expect(answer is not None, "no answer yet: set `bytes_per_op` to a dict {operator type: bytes}")
    expect(
        isinstance(answer, dict) and all(isinstance(k, str) for k in answer),
        "the answer should be a dict keyed by operator type (op_type)",
        got=type(answer).__name__,
    )
    truth = _initializer_bytes_per_op(model)
    expect(
        sorted(answer) == sorted(truth),
        "your dict does not list the operator types that read initializers",
        why="keys are op_type values of the nodes (the graph's operators), and only nodes that read an "
        "initializer hold weights",
        expected=f"{len(truth)} operator types",
        got=sorted(answer),
    )
    sizes = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    for op, want in truth.items():
        value = answer[op]
        expect(
            isinstance(value, int | np.integer) and not isinstance(value, bool),
            f"the value for {op} should be a whole number of bytes",
            got=repr(value),
        )
        if int(value) == want:
            continue
        readers = [n for n in model.graph.node if n.op_type == op]
        values = sum(sizes[name].size for name in {i for n in readers for i in n.input if i in sizes})
        second = sum(sizes[n.input[1]].nbytes for n in readers if len(n.input) > 1 and n.input[1] in sizes)
        if int(value) == values:
            why = "that is a count of values, not of bytes: each value takes as many bytes as its dtype's size"
        elif int(value) == second:
            why = "that counts only one of the initializers each node reads; the others are weights too"
        else:
            why = "count every initializer that the nodes of this type read, in bytes"
        raise NotYet(f"the bytes for {op} are wrong", why=why, got=int(value))
    total = sum(truth.values())
    share = {op: n / total for op, n in truth.items()}
    biggest = max(share, key=share.__getitem__)
    return (
        f"{', '.join(f'{op} {n:,} B' for op, n in truth.items())}: {biggest} holds {share[biggest]:.0%} of the weights"
    )


bytes_per_op = Exercise(
    "04.2",
    "How many bytes of weights does each operator type read? (transfer)",
    _check_bytes_per_op,
    hints=[
        "Two lists to join: model.graph.initializer (name -> tensor) and model.graph.node (op_type, and the names "
        "of the tensors each node reads in node.input).",
        "Make a dict from initializer name to numpy_helper.to_array(t).nbytes; then, for every node, add the "
        "bytes of each input name found in that dict to the node's op_type.",
        "sizes = {t.name: numpy_helper.to_array(t).nbytes for t in model.graph.initializer}; for node in "
        "model.graph.node: for name in node.input: if name in sizes: answer[node.op_type] = "
        "answer.get(node.op_type, 0) + sizes[name].",
    ],
    solution_code="""
import onnx
from onnx import numpy_helper

from course_utils.paths import artifact_path

model = onnx.load(artifact_path("digits_cnn.onnx", lesson="04"))
sizes = {t.name: numpy_helper.to_array(t).nbytes for t in model.graph.initializer}
bytes_per_op = {}
for node in model.graph.node:
    for name in node.input:
        if name in sizes:  # an initializer: a weight this node reads
            bytes_per_op[node.op_type] = bytes_per_op.get(node.op_type, 0) + sizes[name]
lesson04.bytes_per_op.check(model, bytes_per_op)
""",
    giveaways=("numpy_helper.to_array", "node.input:", ".nbytes", "133928", "133,928", "19200", "19,200"),
)


# ------------------------------------------------------------------------------------------ 04.3


def _check_metadata(answer: Any) -> str:
    model = _load_answer(answer)
    keys = [p.key for p in model.metadata_props]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    expect(
        not duplicates,
        f"metadata key(s) {', '.join(duplicates)} appear more than once",
        why="keys must be unique: a reader keeps one value per key, and which one is not defined",
    )
    meta = {p.key: p.value for p in model.metadata_props}
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    on_graph = sorted({p.key for p in model.graph.metadata_props} & set(missing))
    expect(
        not on_graph,
        f"{', '.join(on_graph)} sit in the graph's metadata, not in the model's",
        why="an ONNX file has metadata at several levels (the model, the graph, each node); a deployment reads "
        "the model-level entries, which session.get_modelmeta().custom_metadata_map returns, and never looks at "
        "the graph's",
        expected=f"model-level entries {sorted(REQUIRED_METADATA)}",
        got=f"model-level {sorted(meta)}, graph-level {sorted(p.key for p in model.graph.metadata_props)}",
    )
    expect(
        not missing,
        f"missing metadata: {', '.join(missing)}",
        expected=sorted(REQUIRED_METADATA),
        got=sorted(meta),
    )
    for key, want in REQUIRED_METADATA.items():
        if want is None:
            expect(meta[key].strip() != "", f"'{key}' is empty: write your name (any text)", got=repr(meta[key]))
        else:
            expect(meta[key] == want, f"'{key}' has another value", expected=repr(want), got=repr(meta[key]))
    expect_valid_model(model, "adding metadata should change nothing else in the model")
    expect(
        [v.name for v in _graph_inputs(model)] == ["image"] and any(n.op_type == "Conv" for n in model.graph.node),
        "this is not the digits CNN any more: add metadata to the exported digits_cnn.onnx",
        got=[v.name for v in _graph_inputs(model)],
    )
    import onnxruntime as ort

    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    seen = session.get_modelmeta().custom_metadata_map
    expect(all(k in seen for k in REQUIRED_METADATA), "ONNX Runtime does not see the metadata", got=seen)
    return f"ONNX Runtime reads your {len(meta)} metadata entries: session.get_modelmeta().custom_metadata_map"


add_metadata = Exercise(
    "04.3",
    "Add metadata a deployment can read",
    _check_metadata,
    hints=[
        "Section 6 added metadata to a model: which field of the ModelProto holds it, and which onnx.helper "
        "function sets it?",
        "onnx.helper.set_model_props(model, {'labels': ..., 'dataset': ..., 'author': ...}) replaces "
        "model.metadata_props with these key/value pairs. The values are exact strings (no spaces in labels).",
    ],
    solution_code="""
import onnx

from course_utils.paths import artifact_path

model = onnx.load(artifact_path("digits_cnn.onnx", lesson="04"))
onnx.helper.set_model_props(
    model, {"labels": "0,1,2,3,4,5,6,7,8,9", "dataset": "scikit-learn digits 8x8", "author": "Ada Lovelace"}
)
out = artifact_path("solution_digits_cnn_meta.onnx", lesson="04")
onnx.save(model, out)
lesson04.add_metadata.check(out)
""",
    giveaways=("set_model_props", "metadata_props.add"),
)


# ------------------------------------------------------------------------------------------ 04.4


def _check_cut_classifier(answer: Any) -> str:
    model = _load_answer(answer)
    expect_valid_model(model, "a cut must keep every tensor a node reads")
    ops = sorted(n.op_type for n in model.graph.node)
    expect(
        "Conv" not in ops and "MaxPool" not in ops,
        "the cut still holds the convolution part",
        expected="only the classifier: Gemm, Relu, Gemm",
        why="the head starts where the features are flattened, after the last pooling",
        got=ops,
    )
    outputs = [v.name for v in model.graph.output]
    expect(
        ops.count("Gemm") <= 2,
        "the cut holds more Gemm nodes than the classifier has",
        expected="only the classifier: Gemm, Relu, Gemm",
        got=ops,
    )
    if ops.count("Gemm") < 2:
        ends_at_logits = outputs == ["logits"]  # the name the lesson's export gives the model's output
        expect(
            not ends_at_logits,
            "the cut ends at the logits but starts after the first Linear layer",
            why="the head starts where the features are flattened: the first Linear layer is part of it",
            expected=["Gemm", "Gemm", "Relu"],
            got=ops,
        )
        raise NotYet(
            f"the cut stops before the logits: it ends at {outputs}",
            why="the head must end at the model's output, the logits the last Linear layer computes",
            expected=["Gemm", "Gemm", "Relu"],
            got=ops,
        )
    inputs = _graph_inputs(model)
    expect(len(inputs) == 1, "the cut should have one input: the flattened features", got=[v.name for v in inputs])
    rank = len(inputs[0].type.tensor_type.shape.dim)
    expect(
        rank == 2,
        "the input should be the flattened features, shape [batch, 512]",
        expected="rank 2",
        got=f"rank {rank}",
    )
    expect(
        len(model.graph.output) == 1,
        "the cut should have one output, the logits",
        got=[v.name for v in model.graph.output],
    )

    import torch

    from course_utils.models.data import load_digits, load_digits_cnn

    cnn = load_digits_cnn()
    with torch.no_grad():
        features = torch.flatten(cnn.features(torch.from_numpy(load_digits().x_test[:16])), 1)
        want = cnn.classifier(features).numpy()
    (got,) = _run_ort(model, {inputs[0].name: features.numpy()})
    expect(got.shape == want.shape, "the output has the wrong shape", expected=want.shape, got=got.shape)
    err = float(np.abs(got - want).max())
    expect(
        err < 1e-4,
        "the numbers differ from PyTorch's classifier",
        expected="max difference < 1e-4",
        got=f"max difference {measurement(err)}",
    )
    return "the cut head maps (batch, 512) features to the same logits as PyTorch's classifier (within 1e-4)"


cut_classifier = Exercise(
    "04.4",
    "Cut the classifier head out of the model",
    _check_cut_classifier,
    hints=[
        "Section 6 cut out the feature extractor with onnx.utils.extract_model. The head is the other end: which "
        "tensor does it start from?",
        "Find the name of the tensor the first Gemm reads: [list(n.input) for n in model.graph.node if "
        "n.op_type == 'Gemm'].",
        "onnx.utils.extract_model(str(src), str(dst), input_names=[<the first Gemm's input 0>], "
        "output_names=['logits']).",
    ],
    solution_code="""
import onnx

from course_utils.paths import artifact_path

src = artifact_path("digits_cnn.onnx", lesson="04")
model = onnx.load(src)
first_gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
dst = artifact_path("solution_digits_head.onnx", lesson="04")
onnx.utils.extract_model(str(src), str(dst), input_names=[first_gemm.input[0]], output_names=["logits"])
lesson04.cut_classifier.check(dst)
""",
    giveaways=("extract_model(", "input_names=", "first gemm"),
)
