"""Exercises of lesson 09 (shapes that change, operators ONNX lacks): export a two-channel model with a symbolic
batch and length, pin the lesson's model to fixed shapes for a target that needs them, (transfer) make an unseen
model's fixed length dynamic, and (transfer) implement an onnxruntime-extensions operator for onnx's reference
evaluator, and plan a TensorRT session (provider options and a profile) for given traffic.

    from course_utils.lessons import lesson09
    lesson09.two_dims.check(path, net)
    lesson09.two_dims.hint()        # again for a more specific one
    lesson09.two_dims.solution()
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from ..errors import first_line
from ..paths import relative_to_repo
from .exercises import Exercise, NotYet, expect

__all__ = [
    "FIXED_BATCH",
    "FIXED_LENGTH",
    "SEGMENT_CASES",
    "TRAFFIC",
    "fixed_length_model",
    "fixed_target",
    "reference_op",
    "segment_sum_model",
    "tensorrt_plan",
    "two_channel_net",
    "two_dims",
    "unfix_length",
]

#: The shapes exercise 09.2 pins the lesson's model to (an NNAPI/CoreML-style target).
FIXED_BATCH, FIXED_LENGTH = 4, 256


def _load(answer: Any, what: str) -> onnx.ModelProto:
    expect(answer is not None, f"no answer yet: pass {what}")
    expect(
        isinstance(answer, onnx.ModelProto | str | os.PathLike),
        f"pass {what} (a path or an onnx.ModelProto)",
        got=type(answer).__name__,
    )
    if isinstance(answer, onnx.ModelProto):
        return answer
    if not Path(answer).exists():
        raise NotYet(f"there is no file at {relative_to_repo(answer)} yet", why="save the model there first")
    try:
        return onnx.load(str(answer))
    except Exception as error:  # a half-written file or another format
        raise NotYet("that file is not an ONNX model", got=first_line(error)) from None


def _session(model: onnx.ModelProto, *, extensions: bool = False) -> Any:
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 4  # the course reports the error itself; no timestamped log lines
    if extensions:
        from onnxruntime_extensions import get_library_path

        options.register_custom_ops_library(get_library_path())
    try:
        return ort.InferenceSession(model.SerializeToString(), options, providers=["CPUExecutionProvider"])
    except Exception as error:  # ORT raises several pybind types
        raise NotYet("ONNX Runtime refuses to load the model", got=first_line(error)[:300]) from None


def _run(session: Any, feed: dict[str, np.ndarray], where: str) -> np.ndarray:
    try:
        return np.asarray(session.run(None, feed)[0])
    except Exception as error:
        raise NotYet(
            f"ONNX Runtime cannot run the model {where}",
            why="a model whose shapes are right runs at every size its inputs declare",
            got=first_line(error)[:300],
        ) from None


def _dims(value: onnx.ValueInfoProto) -> list[str | int]:
    return [d.dim_param if d.dim_param else d.dim_value for d in value.type.tensor_type.shape.dim]


# ------------------------------------------------------------------------------------------------- 09.1


def two_channel_net() -> Any:
    """Exercise 09.1's PyTorch model: ``forward(signal)`` takes float32 ``[batch, 2, length]`` (two channels, time
    last) and returns ``[batch, 4]``: a Conv1d, ReLU, a mean over time and a linear layer. Imports torch."""
    import torch

    class TwoChannelNet(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv1d(2, 8, 3, padding=1)
            self.head = torch.nn.Linear(8, 4)

        def forward(self, signal: torch.Tensor) -> torch.Tensor:
            logits: torch.Tensor = self.head(torch.relu(self.conv(signal)).mean(dim=2))
            return logits

    torch.manual_seed(9)
    return TwoChannelNet().eval()


def _check_two_dims(answer: Any, net: Any) -> str:
    import torch

    model = _load(answer, "the path of your exported two-channel model")
    inputs = [i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}]
    expect(len(inputs) == 1, "the model should have one input, the signal batch", got=len(inputs))
    dims = _dims(inputs[0])
    expect(len(dims) == 3, "the input should have three dimensions: batch, channels, time", got=dims)
    expect(
        isinstance(dims[0], str) and dims[0] != "",
        "the first (batch) dimension of the input is fixed",
        why="a session then refuses every other batch size",
        expected="a named dimension",
        got=dims,
    )
    expect(
        dims[1] == 2,
        "the channel dimension is not the fixed 2 the convolution needs",
        why="the weights are made for exactly two channels",
        got=dims,
    )
    expect(
        isinstance(dims[2], str) and dims[2] != "",
        "the time dimension of the input is fixed",
        why="signals of another length are then refused; check which axis holds time in this model",
        expected="a named dimension at the axis that holds time",
        got=dims,
    )
    session = _session(model)
    name = session.get_inputs()[0].name
    rng = np.random.default_rng(91)
    for batch, length in ((1, 9), (3, 40), (2, 333)):
        x = rng.standard_normal((batch, 2, length)).astype(np.float32)
        actual = _run(session, {name: x}, f"at batch {batch}, length {length}")
        with torch.no_grad():
            expected = net(torch.from_numpy(x)).numpy()
        expect(
            actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=1e-5, atol=1e-5)),
            f"at batch {batch}, length {length} the outputs differ from the PyTorch model's",
            why="the file must be the same network as the module you were given",
            got=f"shape {actual.shape}" if actual.shape != expected.shape else "values differ",
        )
    return f"input {dims}: ran at batch 1, 3, 2 and lengths 9, 40, 333, matching PyTorch within 1e-5 each time"


two_dims = Exercise(
    "09.1",
    "Export a two-channel model with a symbolic batch and length",
    _check_two_dims,
    hints=[
        "Print net and read forward(): which axis of signal holds the batch, which the channels, which time? The "
        "lesson's model had time at axis 1; this one does not.",
        "dynamic_shapes maps forward()'s parameter name to {axis: torch.export.Dim(...)}, one entry per axis that "
        "may vary. Then open the file and print its input's dims: an axis you meant to be free may have come out "
        "as a number.",
        "torch.onnx.export(net, (torch.randn(2, 2, 64),), path, dynamic_shapes={'signal': {0: "
        "torch.export.Dim('batch'), 2: torch.export.Dim('length')}}).",
    ],
    solution_code="""
import warnings

import onnx
import torch

from course_utils.paths import artifact_path

solution_two_path = artifact_path("solution_two_channel.onnx", lesson="09")
solution_dims = {"signal": {0: torch.export.Dim("batch", min=1, max=64), 2: torch.export.Dim("length", min=3, max=4096)}}
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.onnx.export(net, (torch.randn(2, 2, 64),), solution_two_path, dynamic_shapes=solution_dims, verbose=False)
solution_input = onnx.load(solution_two_path).graph.input[0]
assert [d.dim_param or d.dim_value for d in solution_input.type.tensor_type.shape.dim] == ["batch", 2, "length"]
lesson09.two_dims.check(solution_two_path, net)
""",
    giveaways=("2: torch.export.Dim", "axis 2"),
)


# ------------------------------------------------------------------------------------------------- 09.2


def _check_fixed_target(answer: Any, original: Any) -> str:
    from ..models.seqmodel import make_waveforms

    model = _load(answer, "the path of your fixed-shape model")
    source = _load(original, "the path of the lesson's dynamic model (the second argument)")
    expect(
        all(isinstance(d, str) for d in _dims(source.graph.input[0])),
        "the lesson's own dynamic model has lost its symbolic dimensions",
        why="the fixed copy is for one target; other callers still need the dynamic file, so it must stay as it was",
        got=_dims(source.graph.input[0]),
    )
    dims = _dims(model.graph.input[0])
    expect(
        dims == [FIXED_BATCH, FIXED_LENGTH],
        "the input's shape is not the target's",
        why=f"the target runs exactly batch {FIXED_BATCH}, length {FIXED_LENGTH}",
        expected=[FIXED_BATCH, FIXED_LENGTH],
        got=dims,
    )
    out_dims = _dims(model.graph.output[0])
    expect(
        all(isinstance(d, int) and d > 0 for d in out_dims),
        "the output still declares a symbolic or unknown dimension",
        why="a fixed-shape target reads the output's shape from the file too (and the mobile checker counts it)",
        got=out_dims,
    )
    x, _ = make_waveforms(FIXED_BATCH, FIXED_LENGTH, seed=92)
    actual = _run(_session(model), {model.graph.input[0].name: x}, f"at [{FIXED_BATCH}, {FIXED_LENGTH}]")
    expected = _run(_session(source), {source.graph.input[0].name: x}, "(the dynamic model)")
    expect(
        actual.shape == expected.shape and bool(np.allclose(actual, expected, rtol=1e-5, atol=1e-6)),
        "the fixed model's outputs differ from the dynamic model's",
        why="pinning shapes must not change the numbers",
    )
    return f"input {dims}, output {out_dims}, same numbers as the dynamic model; the dynamic file is unchanged"


fixed_target = Exercise(
    "09.2",
    "Pin the lesson's model to the shapes a fixed-shape target needs",
    _check_fixed_target,
    hints=[
        "Section 3 showed two ways: a session option (only inside one session) and a tool that writes a new file. "
        "The target needs a file.",
        "The tool works on dim_param names (or on an input name and a whole shape). Write to a new path, then "
        "print the new file's input and output dims: both must be numbers.",
        "python -m onnxruntime.tools.make_dynamic_shape_fixed --input_name x --input_shape 4,256 IN OUT (or "
        "--dim_param batch --dim_value 4, then length); the output's dims follow.",
    ],
    solution_code="""
import onnx
from onnxruntime.tools.onnx_model_utils import fix_output_shapes, make_input_shape_fixed

from course_utils.paths import artifact_path

# What python -m onnxruntime.tools.make_dynamic_shape_fixed --input_name x --input_shape 4,256 IN OUT does:
solution_fixed = onnx.load(seq_path)
make_input_shape_fixed(solution_fixed.graph, "x", [4, 256])
fix_output_shapes(solution_fixed)
solution_fixed_path = artifact_path("solution_seq_fixed.onnx", lesson="09")
onnx.save(solution_fixed, solution_fixed_path)
lesson09.fixed_target.check(solution_fixed_path, seq_path)
""",
    giveaways=("make_dynamic_shape_fixed", "make_dim_param_fixed", "make_input_shape_fixed", "--input_shape"),
)


# ------------------------------------------------------------------------------------------------- 09.3


def fixed_length_model() -> onnx.ModelProto:
    """Exercise 09.3's model, as a colleague handed it over (no source code): input ``frames`` float32
    ``[1, 32, 4]`` (32 time steps of 4 features) -> per-step dense layer (4 -> 8) -> Relu -> mean over time ->
    ``embedding`` ``[1, 8]``. Built with onnx.helper at opset 20, with the length written into the graph."""
    frames = helper.make_tensor_value_info("frames", TensorProto.FLOAT, [1, 32, 4])
    embedding = helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [1, 8])
    weight = numpy_helper.from_array(np.linspace(-1, 1, 32, dtype=np.float32).reshape(4, 8), "dense.weight")
    flat = numpy_helper.from_array(np.array([32, 4], np.int64), "flat_shape")
    back = numpy_helper.from_array(np.array([1, 32, 8], np.int64), "steps_shape")
    axes = numpy_helper.from_array(np.array([1], np.int64), "time_axis")
    nodes = [
        helper.make_node("Reshape", ["frames", "flat_shape"], ["steps"], name="flatten_steps"),
        helper.make_node("MatMul", ["steps", "dense.weight"], ["dense"], name="dense"),
        helper.make_node("Relu", ["dense"], ["active"], name="relu"),
        helper.make_node("Reshape", ["active", "steps_shape"], ["per_step"], name="unflatten_steps"),
        helper.make_node("ReduceMean", ["per_step", "time_axis"], ["embedding"], name="mean_over_time", keepdims=0),
    ]
    graph = helper.make_graph(nodes, "frames_encoder", [frames], [embedding], [weight, flat, back, axes])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10)


def _embedding(x: np.ndarray) -> np.ndarray:
    weight = np.linspace(-1, 1, 32, dtype=np.float32).reshape(4, 8)
    return np.asarray(np.maximum(x @ weight, 0).mean(axis=1))


def _check_unfix_length(answer: Any) -> str:
    model = _load(answer, "your version of fixed_length_model()")
    expect(len(model.graph.input) >= 1, "the model has no input")
    frames = model.graph.input[0]
    dims = _dims(frames)
    expect(len(dims) == 3, "the input should keep its three dimensions (batch, time, features)", got=dims)
    expect(
        isinstance(dims[1], str) and dims[1] != "",
        "the time dimension of the input is still fixed",
        why="a session checks every feed against the declared input shape before it runs a node",
        expected="a named dimension at the time axis",
        got=dims,
    )
    expect(dims[2] == 4, "the feature dimension must stay 4: the weights need it", got=dims)
    batch = 2 if isinstance(dims[0], str) and dims[0] else int(dims[0]) or 1
    session = _session(model)
    rng = np.random.default_rng(93)
    for length in (5, 32, 77):
        x = rng.standard_normal((batch, length, 4)).astype(np.float32)
        actual = _run(session, {frames.name: x}, f"at length {length}")
        expect(
            actual.shape == (batch, 8) and bool(np.allclose(actual, _embedding(x), rtol=1e-5, atol=1e-6)),
            f"at length {length} the embedding differs from the original model's computation",
            why="only the shapes may change; each step must still go through the same layer, then the mean",
            got=f"shape {actual.shape}",
        )
    return f"input {dims}: runs at lengths 5, 32 and 77 (batch {batch}) with the original model's numbers"


unfix_length = Exercise(
    "09.3",
    "Transfer: make an unseen model's fixed length dynamic, and prove it",
    _check_unfix_length,
    hints=[
        "Change the input's time dimension to a name first, then run it at another length and read ONNX Runtime's "
        "error: which node fails, and what shape does it ask for?",
        "The length is written in two more places than the input: initializers that hold shapes. A shape tensor "
        "may leave one entry to be computed from the others.",
        "Set frames' dim 1 dim_param to 'length' (and clear the output's/any stale fixed dims if you like), then "
        "replace flat_shape by [-1, 4] and steps_shape by [1, -1, 8] (numpy_helper.from_array).",
    ],
    solution_code="""
import numpy as np
import onnx
from onnx import numpy_helper

from course_utils.paths import artifact_path

solution_unfixed = fixed_length_model()
solution_unfixed.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "length"
solution_new_shapes = {"flat_shape": [-1, 4], "steps_shape": [1, -1, 8]}
for solution_index, solution_tensor in enumerate(solution_unfixed.graph.initializer):
    if solution_tensor.name in solution_new_shapes:
        solution_unfixed.graph.initializer[solution_index].CopyFrom(
            numpy_helper.from_array(np.array(solution_new_shapes[solution_tensor.name], np.int64), solution_tensor.name)
        )
onnx.checker.check_model(solution_unfixed, full_check=True)
onnx.save(solution_unfixed, artifact_path("solution_frames_dynamic.onnx", lesson="09"))
lesson09.unfix_length.check(solution_unfixed)
""",
    giveaways=("[-1, 4]", "[1, -1, 8]", "flat_shape by", "steps_shape by"),
)


# ------------------------------------------------------------------------------------------------- 09.4

#: The (data, segment_ids) pairs exercise 09.4 checks: rows, 3-D data, a first segment that is not 0, one segment.
SEGMENT_CASES: tuple[tuple[np.ndarray, np.ndarray], ...] = (
    (np.arange(12, dtype=np.float32).reshape(4, 3), np.array([0, 0, 1, 1], np.int64)),
    (np.linspace(-1, 1, 30, dtype=np.float32).reshape(5, 3, 2), np.array([0, 1, 1, 2, 2], np.int64)),
    (np.arange(8, dtype=np.float32).reshape(4, 2) - 3.5, np.array([2, 2, 3, 3], np.int64)),
    (np.ones((3, 4), np.float32), np.array([0, 0, 0], np.int64)),
)


def segment_sum_model() -> onnx.ModelProto:
    """One ``ai.onnx.contrib`` ``SegmentSum(data, segment_ids)`` node, the operator onnxruntime-extensions ships
    (in C++): input ``data`` float32 of any rank, ``segment_ids`` int64 ``[n]``, output ``sums``."""
    data = helper.make_tensor_value_info("data", TensorProto.FLOAT, None)
    ids = helper.make_tensor_value_info("segment_ids", TensorProto.INT64, ["n"])
    sums = helper.make_tensor_value_info("sums", TensorProto.FLOAT, None)
    node = helper.make_node("SegmentSum", ["data", "segment_ids"], ["sums"], domain="ai.onnx.contrib")
    graph = helper.make_graph([node], "segment_sum", [data, ids], [sums])
    opsets = [helper.make_opsetid("", 20), helper.make_opsetid("ai.onnx.contrib", 1)]
    return helper.make_model(graph, opset_imports=opsets, ir_version=10)


def _check_reference_op(answer: Any) -> str:
    from onnx.reference import ReferenceEvaluator
    from onnx.reference.op_run import OpRun

    expect(answer is not None, "no answer yet: pass your operator class (the class itself, not an instance)")
    expect(
        isinstance(answer, type) and issubclass(answer, OpRun),
        "the answer is not a class derived from onnx.reference.op_run.OpRun",
        why="ReferenceEvaluator(model, new_ops=[...]) takes OpRun subclasses",
        got=type(answer).__name__ if not isinstance(answer, type) else answer.__name__,
    )
    expect(
        answer.__name__ == "SegmentSum",
        "the class's name is not the operator's op_type",
        why="the reference evaluator matches a node to a new op by the class name (and its domain)",
        got=answer.__name__,
    )
    model = segment_sum_model()
    try:
        evaluator = ReferenceEvaluator(model, new_ops=[answer])
    except NotImplementedError as error:
        raise NotYet(
            "the reference evaluator does not use your class for the node",
            why="the node lives in the ai.onnx.contrib domain; a class that does not say which domain it serves "
            "is filed under the standard one",
            got=first_line(error)[:200],
        ) from None
    session = _session(model, extensions=True)
    for data, ids in SEGMENT_CASES:
        feed = {"data": data, "segment_ids": ids}
        expected = _run(session, feed, "with the extensions library")
        try:
            (actual,) = evaluator.run(None, feed)
        except Exception as error:
            raise NotYet(
                f"your operator raised for data of shape {list(data.shape)} and segment_ids {ids.tolist()}",
                got=f"{type(error).__name__}: {first_line(error)[:200]}",
            ) from None
        actual = np.asarray(actual)
        expect(
            actual.dtype == expected.dtype,
            "the output's element type differs from the kernel's",
            why="the operator keeps the input's type; a model downstream would get another type",
            expected=str(expected.dtype),
            got=str(actual.dtype),
        )
        expect(
            actual.shape == expected.shape,
            f"for segment_ids {ids.tolist()} the output's shape differs from the kernel's",
            why="the kernel decides how many rows the output has; test the case where the first id is not 0",
            expected=list(expected.shape),
            got=list(actual.shape),
        )
        expect(
            bool(np.allclose(actual, expected, rtol=1e-6, atol=1e-6)),
            f"for segment_ids {ids.tolist()} the sums differ from the kernel's",
        )
    return f"your SegmentSum equals the onnxruntime-extensions kernel on all {len(SEGMENT_CASES)} cases"


reference_op = Exercise(
    "09.4",
    "Transfer: implement an extensions operator for the reference evaluator",
    _check_reference_op,
    hints=[
        "Run segment_sum_model() in ONNX Runtime with the extensions library on a few segment_ids of your own "
        "(sorted ids; try ones that do not start at 0) and look at the output's shape.",
        "Your class needs the operator's name, the domain it belongs to, and a _run(self, data, segment_ids) that "
        "returns a tuple. The output has one row per id from 0 to the largest one, zeros where an id has no row.",
        "class SegmentSum(OpRun): op_domain = 'ai.onnx.contrib'; in _run: out = np.zeros((ids.max() + 1, "
        "*data.shape[1:]), data.dtype); np.add.at(out, ids, data); return (out,).",
    ],
    solution_code="""
import numpy as np
from onnx.reference.op_run import OpRun


class SegmentSum(OpRun):
    op_domain = "ai.onnx.contrib"

    def _run(self, data, segment_ids):
        sums = np.zeros((int(segment_ids.max()) + 1, *data.shape[1:]), dtype=data.dtype)
        np.add.at(sums, segment_ids, data)
        return (sums,)


lesson09.reference_op.check(SegmentSum)
""",
    giveaways=("np.add.at", "max() + 1", "op_domain ="),
)


# ------------------------------------------------------------------------------------------------- 09.5

#: Exercise 09.5's traffic: batches of 1 to 16 signals of 32 to 512 samples, most often 8 signals of 256.
TRAFFIC = {"batch": (1, 8, 16), "length": (32, 256, 512)}
_TRUE = {"1", "true", "True"}


def _profile(options: dict[str, Any], key: str, name: str) -> tuple[int, int] | None:
    text = str(options.get(key, ""))
    entries = dict(part.split(":", 1) for part in text.split(",") if ":" in part)
    if name not in entries:
        return None
    try:
        batch, length = (int(v) for v in entries[name].split("x"))
    except ValueError:
        return None
    return batch, length


def _check_tensorrt_plan(providers: Any, options: Any) -> str:
    import onnxruntime as ort

    expect(providers is not None, "no answer yet: fill in providers (and options)")
    expect(
        isinstance(providers, list | tuple) and len(providers) > 0,
        "providers must be a list, as InferenceSession's providers= takes it",
        got=type(providers).__name__,
    )
    names = [p[0] if isinstance(p, tuple) else p for p in providers]
    unknown = [n for n in names if n not in ort.get_all_providers()]
    expect(
        not unknown,
        "ONNX Runtime knows no provider by that name",
        why="an unknown name falls back to the CPU with a printed 'EP Error', easy to miss in a log",
        got=unknown,
    )
    expect(
        names[0] == "TensorrtExecutionProvider",
        "TensorRT is not the first provider",
        why="ONNX Runtime offers each node to the providers in list order",
        got=names,
    )
    expect(
        isinstance(providers[0], tuple) and len(providers[0]) == 2 and isinstance(providers[0][1], dict),
        "the TensorRT entry carries no options",
        why="a (name, options dict) pair is how a provider gets its options",
        got=repr(providers[0]),
    )
    expect(
        "CUDAExecutionProvider" in names[1:],
        "nodes TensorRT cannot take have no GPU provider to go to",
        why="without one they run on the CPU, with copies between GPU and CPU memory around each of them",
        got=names,
    )
    trt = {str(k): v for k, v in providers[0][1].items()}
    expect(
        str(trt.get("trt_engine_cache_enable", "")) in _TRUE and bool(str(trt.get("trt_engine_cache_path", ""))),
        "built engines are not kept between sessions, or not in a folder you chose",
        why="every new session would build the engines again (seconds to minutes), and the folder must be one the "
        "service can write and you can delete when versions change",
        got={k: trt[k] for k in ("trt_engine_cache_enable", "trt_engine_cache_path") if k in trt},
    )
    found = {key: _profile(trt, f"trt_profile_{key}_shapes", "x") for key in ("min", "opt", "max")}
    missing = [key for key, value in found.items() if value is None]
    expect(
        not missing,
        "the shape profile is incomplete or does not name the model's input",
        why="TensorRT takes an explicit profile only with all three shapes, each as input_name:BxL",
        got={f"trt_profile_{key}_shapes": trt.get(f"trt_profile_{key}_shapes") for key in missing},
    )
    wanted = {key: (TRAFFIC["batch"][i], TRAFFIC["length"][i]) for i, key in enumerate(("min", "opt", "max"))}
    expect(
        found == wanted,
        "the profile does not describe the traffic",
        why="shapes outside the profile rebuild the engine; too wide a profile makes it slower for the usual case",
        got={key: f"batch {v[0]}, length {v[1]}" for key, v in found.items() if v is not None and v != wanted[key]},
    )
    expect(
        isinstance(options, ort.SessionOptions),
        "options is not an onnxruntime.SessionOptions",
        got=type(options).__name__,
    )
    try:
        strict = options.get_session_config_entry("session.disable_cpu_ep_fallback")
    except RuntimeError:  # ORT raises for a key that was never set
        strict = ""
    expect(
        strict == "1",
        "a server without a working GPU would still start, and run everything on the CPU",
        why="on a machine where TensorRT or CUDA is missing, the session warns and falls back; the service should "
        "refuse to start instead",
    )
    return "TensorRT first with a cached engine and a profile for the traffic, CUDA next, and no silent CPU fallback"


tensorrt_plan = Exercise(
    "09.5",
    "Plan a TensorRT session for the sequence model",
    _check_tensorrt_plan,
    hints=[
        "Section 7's table has an option for each requirement. Write providers as a list of entries, the first a "
        "(name, {option: value}) pair; the names are the ones ort.get_all_providers() lists.",
        "A profile is three options (min, opt, max), each 'input_name:BATCHxLENGTH'; the model's input is x. The "
        "session option that forbids the CPU fallback is a config entry on SessionOptions.",
        "[('TensorrtExecutionProvider', {'trt_engine_cache_enable': '1', 'trt_engine_cache_path': 'trt_cache', "
        "'trt_profile_min_shapes': 'x:BxL', ...}), 'CUDAExecutionProvider'] and "
        "options.add_session_config_entry('session.disable_cpu_ep_fallback', '1').",
    ],
    solution_code="""
import onnxruntime as ort

solution_providers = [
    (
        "TensorrtExecutionProvider",
        {
            "trt_engine_cache_enable": "1",
            "trt_engine_cache_path": "trt_cache",
            "trt_profile_min_shapes": "x:1x32",
            "trt_profile_opt_shapes": "x:8x256",
            "trt_profile_max_shapes": "x:16x512",
        },
    ),
    "CUDAExecutionProvider",
]
solution_options = ort.SessionOptions()
solution_options.add_session_config_entry("session.disable_cpu_ep_fallback", "1")
lesson09.tensorrt_plan.check(solution_providers, solution_options)
""",
    giveaways=("x:1x32", "x:8x256", "x:16x512"),
)
