"""Exercises of lesson 04 (inside a .onnx file): build a graph by hand, find the largest weight, add metadata,
cut the classifier head out of a real model.

    from course_utils.lessons import lesson04
    lesson04.build_graph.check(model)
    lesson04.build_graph.hint()        # .hint(2) for more
    lesson04.build_graph.solution()

Exercises 04.2-04.4 work on the DigitsCNN that the lesson exports to ``artifacts/04/digits_cnn.onnx``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from ..exercises import Exercise, NotYet, expect
from ..graph import dtype_name, graph_inputs, shape, shape_text
from ..paths import relative_to_repo
from ._answers import expect_valid_model, load_answer

__all__ = ["REQUIRED_METADATA", "add_metadata", "build_graph", "cut_classifier", "largest_initializer"]

#: The metadata exercise 04.3 asks for: exact values, except ``author`` which may be any non-empty text.
REQUIRED_METADATA: dict[str, str | None] = {
    "labels": "0,1,2,3,4,5,6,7,8,9",
    "dataset": "scikit-learn digits 8x8",
    "author": None,
}


def _load_answer(answer: Any) -> onnx.ModelProto:
    """The learner's model from a path, bytes or ModelProto; a missing or broken file is feedback, not a crash."""
    expect(answer is not None, "no answer yet: pass your model (an onnx.ModelProto or the path you saved it to)")
    expect(
        isinstance(answer, onnx.ModelProto | bytes | bytearray | str | os.PathLike),
        "pass an onnx.ModelProto or the path of a .onnx file",
        got=type(answer).__name__,
    )
    if isinstance(answer, str | os.PathLike) and not Path(answer).exists():
        raise NotYet(
            f"there is no file at {relative_to_repo(answer)} yet",
            hint="save your model there first (onnx.save(model, path)), or pass the onnx.ModelProto itself",
        )
    return load_answer(answer)


def _run_ort(model: onnx.ModelProto, feed: dict[str, np.ndarray]) -> list[np.ndarray]:
    import onnxruntime as ort

    try:
        session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
        return session.run(None, feed)
    except Exception as e:  # ONNX Runtime reports load and run problems as several exception types
        first = str(e).strip().splitlines()[0]
        raise NotYet(
            "ONNX Runtime could not run the model",
            got=first[:300],
            hint="pin an opset ONNX Runtime knows: opset_imports=[helper.make_opsetid('', 21)], ir_version=10",
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
        got=[v.name for v in inputs],
        hint="graph inputs are make_tensor_value_info(...) entries; the constants belong in initializers",
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
        expected="['N', 3]",
        got=shape_text(dims),
        hint='make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3])',
    )
    outputs = [v.name for v in model.graph.output]
    expect(outputs == ["y"], "the model needs exactly one output, named 'y'", expected=["y"], got=outputs)
    ops = sorted(n.op_type for n in model.graph.node)
    expect(
        "Constant" not in ops,
        "the constants 2 and 1 should be initializers, not Constant nodes",
        got=ops,
        hint="numpy_helper.from_array(np.array(2.0, dtype=np.float32), 'two'), and pass [two, one] to make_graph",
    )
    expect(
        ops == ["Add", "Mul"],
        "build it from one Mul and one Add node",
        expected=["Add", "Mul"],
        got=ops,
        hint="Mul(x, two) -> tmp, then Add(tmp, one) -> y",
    )
    expect(
        len(model.graph.initializer) >= 1,
        "the constants 2 and 1 should be initializers",
        expected="initializers holding 2 and 1",
        got="no initializers",
        hint="numpy_helper.from_array(np.array(2.0, dtype=np.float32), 'two'), and pass [two, one] to make_graph",
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
            got=np.asarray(ref)[0].tolist(),
            hint="check which initializer feeds Mul and which feeds Add",
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
        "You need: make_tensor_value_info for 'x' and 'y', two initializers (numpy_helper.from_array), "
        "two make_node calls, then make_graph and make_model.",
        "Initializers are float32 scalars: np.array(2.0, dtype=np.float32). Pin the opset ONNX Runtime knows: "
        "make_model(graph, opset_imports=[helper.make_opsetid('', 21)], ir_version=10).",
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
)


# ------------------------------------------------------------------------------------------ 04.2


def _check_largest(model_or_path: Any, name: Any, nbytes: Any) -> str:
    model = _load_answer(model_or_path)
    sizes = {t.name: numpy_helper.to_array(t).nbytes for t in model.graph.initializer}
    expect(bool(sizes), "this model has no initializers: pass the exported digits_cnn.onnx")
    expect(name is not None, "no answer yet: set `name` to the initializer's name")
    expect(
        name in sizes,
        f"there is no initializer called {name!r}",
        got=name,
        hint=f"the names look like {', '.join(repr(n) for n in list(sizes)[:3])}: list them with "
        "[t.name for t in model.graph.initializer]",
    )
    largest = max(sizes.values())
    expect(
        sizes[name] == largest,
        f"{name!r} takes {sizes[name]:,} bytes, but another initializer takes more",
        hint="compute numpy_helper.to_array(t).nbytes for every initializer t and take the maximum",
    )
    expect(
        isinstance(nbytes, int | np.integer) and not isinstance(nbytes, bool),
        "`nbytes` should be a whole number of bytes",
        got=repr(nbytes),
    )
    expect(
        int(nbytes) == largest,
        f"right initializer, wrong size: {name!r} takes {largest:,} bytes",
        expected=largest,
        got=nbytes,
        hint="bytes = number of values x bytes per value (4 for float32); array.nbytes does it for you",
    )
    return f"{name} is the largest initializer: {largest:,} bytes of {sum(sizes.values()):,} in total"


largest_initializer = Exercise(
    "04.2",
    "Which initializer is largest?",
    _check_largest,
    hints=[
        "Load the model with onnx.load and turn each initializer into a numpy array with numpy_helper.to_array.",
        "sizes = {t.name: numpy_helper.to_array(t).nbytes for t in model.graph.initializer}; "
        "then max(sizes, key=sizes.get). (course_utils.inspect.initializer_sizes(path) sorts them for you.)",
    ],
    solution_code="""
import onnx
from onnx import numpy_helper

from course_utils.paths import artifact_path

path = artifact_path("digits_cnn.onnx", lesson="04")
sizes = {t.name: numpy_helper.to_array(t).nbytes for t in onnx.load(path).graph.initializer}
name = max(sizes, key=sizes.get)
lesson04.largest_initializer.check(path, name, sizes[name])
""",
)


# ------------------------------------------------------------------------------------------ 04.3


def _check_metadata(answer: Any) -> str:
    model = _load_answer(answer)
    keys = [p.key for p in model.metadata_props]
    duplicates = sorted({k for k in keys if keys.count(k) > 1})
    expect(
        not duplicates,
        f"metadata key(s) {', '.join(duplicates)} appear more than once",
        hint="keys must be unique: set each once, e.g. with onnx.helper.set_model_props(model, {...})",
    )
    meta = {p.key: p.value for p in model.metadata_props}
    missing = [k for k in REQUIRED_METADATA if k not in meta]
    expect(
        not missing,
        f"missing metadata: {', '.join(missing)}",
        expected=sorted(REQUIRED_METADATA),
        got=sorted(meta),
        hint="model.metadata_props is a list of key/value entries: onnx.helper.set_model_props(model, {...})",
    )
    for key, want in REQUIRED_METADATA.items():
        if want is None:
            expect(meta[key].strip() != "", f"'{key}' is empty: write your name (any text)", got=repr(meta[key]))
        else:
            expect(meta[key] == want, f"'{key}' has another value", expected=repr(want), got=repr(meta[key]))
    expect_valid_model(model, "only metadata_props should change; start again from onnx.load(digits_path)")
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
        "onnx.helper.set_model_props(model, {'labels': ..., 'dataset': ..., 'author': ...}) replaces "
        "model.metadata_props with these key/value pairs; then onnx.save the model.",
        "The values are exact strings: labels '0,1,2,3,4,5,6,7,8,9' (no spaces), dataset 'scikit-learn digits 8x8'.",
    ],
    solution_code="""
import onnx

from course_utils.paths import artifact_path

model = onnx.load(artifact_path("digits_cnn.onnx", lesson="04"))
onnx.helper.set_model_props(
    model, {"labels": "0,1,2,3,4,5,6,7,8,9", "dataset": "scikit-learn digits 8x8", "author": "Ada Lovelace"}
)
out = artifact_path("digits_cnn_meta.onnx", lesson="04")
onnx.save(model, out)
lesson04.add_metadata.check(out)
""",
)


# ------------------------------------------------------------------------------------------ 04.4


def _check_cut_classifier(answer: Any) -> str:
    model = _load_answer(answer)
    expect_valid_model(model, "onnx.utils.extract_model(src, dst, input_names, output_names) keeps the graph valid")
    ops = sorted(n.op_type for n in model.graph.node)
    expect(
        "Conv" not in ops and "MaxPool" not in ops,
        "the cut still holds the convolution part",
        expected="only the classifier: Gemm, Relu, Gemm",
        got=ops,
        hint="start the cut at the tensor the first Gemm reads (the Flatten output), not at 'image'",
    )
    expect(
        ops.count("Gemm") == 2,
        "the classifier head has two Gemm nodes (the two Linear layers)",
        expected=["Gemm", "Gemm", "Relu"],
        got=ops,
        hint="end the cut at the model's output 'logits'",
    )
    inputs = _graph_inputs(model)
    expect(len(inputs) == 1, "the cut should have one input: the flattened features", got=[v.name for v in inputs])
    rank = len(inputs[0].type.tensor_type.shape.dim)
    expect(
        rank == 2,
        "the input should be the flattened features, shape [batch, 512]",
        expected="rank 2",
        got=f"rank {rank}",
        hint="use Flatten's output as the input name, so Flatten stays out of the cut",
    )
    expect(
        len(model.graph.output) == 1,
        "the cut should have one output, the logits",
        got=[v.name for v in model.graph.output],
    )

    import torch

    from ..data import load_digits, load_digits_cnn

    cnn = load_digits_cnn()
    with torch.no_grad():
        features = torch.flatten(cnn.features(torch.from_numpy(load_digits().x_test[:16])), 1)
        want = cnn.classifier(features).numpy()
    (got,) = _run_ort(model, {inputs[0].name: features.numpy()})
    expect(got.shape == want.shape, "the output has the wrong shape", expected=want.shape, got=got.shape)
    err = float(np.abs(got - want).max())
    expect(
        err < 1e-4, "the numbers differ from PyTorch's classifier", expected="max difference < 1e-4", got=f"{err:.2e}"
    )
    return "the cut head maps (batch, 512) features to the same logits as PyTorch's classifier (within 1e-4)"


cut_classifier = Exercise(
    "04.4",
    "Cut the classifier head out of the model",
    _check_cut_classifier,
    hints=[
        "Find the name of the tensor the first Gemm reads: [list(n.input) for n in model.graph.node if n.op_type == 'Gemm'].",
        "onnx.utils.extract_model(str(src), str(dst), input_names=[<Flatten output>], output_names=['logits']).",
    ],
    solution_code="""
import onnx

from course_utils.paths import artifact_path

src = artifact_path("digits_cnn.onnx", lesson="04")
model = onnx.load(src)
first_gemm = next(n for n in model.graph.node if n.op_type == "Gemm")
dst = artifact_path("digits_head.onnx", lesson="04")
onnx.utils.extract_model(str(src), str(dst), input_names=[first_gemm.input[0]], output_names=["logits"])
lesson04.cut_classifier.check(dst)
""",
)
