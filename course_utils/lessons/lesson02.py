"""Exercises of lesson 02 (exporting from PyTorch, checking an export): a dynamic batch that stays dynamic, a
data-dependent branch that survives export, a parity check that passes for the right reason, and two
transfers: a model whose operator has no ONNX translation, and a model with two inputs.

    from course_utils.lessons import lesson02
    lesson02.dynamic_batch.check(path)
    lesson02.dynamic_batch.hint()        # again for a more specific one
    lesson02.dynamic_batch.solution()

The models the exercises export are defined in :mod:`course_utils.lessons.exercise_models.lesson02` and
importable from here (:class:`PatchClassifier`, :class:`AutoScaleCNN`,
:class:`ColumnMedianClassifier`, :class:`TemperatureCNN`), so the checks can compare the learner's ONNX file with
the very model it came from.
Feedback says what is wrong and why, never the fix; the hints and the solution give it on request.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from course_utils.lessons._answers import load_answer, run_answer
from course_utils.lessons.exercise_models.lesson02 import (
    AutoScaleCNN,
    ColumnMedianClassifier,
    PatchClassifier,
    TemperatureCNN,
    auto_scale_cnn,
    column_median_classifier,
    control_flow_inputs,
    patch_classifier,
    temperature_cnn,
)
from course_utils.lessons.exercises import Exercise, NotYet, expect
from course_utils.models.data import load_digits
from course_utils.onnxfile.graph import Dim, graph_inputs, shape, shape_text
from course_utils.onnxfile.render import measurement
from course_utils.onnxfile.verify import DEFAULT_TOLERANCES, compare_outputs
from course_utils.paths import artifact_path

__all__ = [
    "AutoScaleCNN",
    "ColumnMedianClassifier",
    "PatchClassifier",
    "TemperatureCNN",
    "auto_scale_cnn",
    "column_median_classifier",
    "control_flow",
    "dynamic_batch",
    "missing_operator",
    "parity",
    "patch_classifier",
    "temperature_cnn",
    "two_inputs",
]


# ----------------------------------------------------------------------------------------------- helpers


def _load_answer(answer: Any) -> onnx.ModelProto:
    """The learner's exported model from a path (or bytes/ModelProto); a missing or broken file is feedback."""
    return load_answer(answer, missing="no answer yet: pass the path you exported the model to")


def _dims(value: onnx.ValueInfoProto) -> list[Dim]:
    return list(shape(value.type) or ())


def _user_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    return graph_inputs(model.graph)


def _expect_dynamic_batch(model: onnx.ModelProto) -> None:
    inputs = _user_inputs(model)
    expect(len(inputs) == 1, "the model should have exactly one input (the image)", got=[v.name for v in inputs])
    dims = _dims(inputs[0])
    expect(
        dims[1:] == [1, 8, 8],
        "the input should be images of shape (N, 1, 8, 8)",
        expected="[batch, 1, 8, 8]",
        got=shape_text(dims),
    )
    expect(
        isinstance(dims[0], str) and dims[0] != "",
        "the batch dimension is fixed",
        why="a session built from this file rejects every other batch size. "
        + (
            "You asked for a dynamic batch, yet the export settled it to the example's size without a word"
            if dims[0] == 1
            else "Nothing in the export marked the batch as dynamic, so the example's size was written down"
        ),
        expected="a named (symbolic) first dimension",
        got=shape_text(dims),
    )
    out_dims = _dims(model.graph.output[0])
    expect(
        bool(out_dims) and isinstance(out_dims[0], str) and out_dims[0] != "",
        "the input's batch is dynamic but the output's is fixed",
        why="the model's code fixed the batch somewhere between input and output",
        got=shape_text(out_dims),
    )


def _run(model: Any, *inputs: np.ndarray) -> np.ndarray:
    return next(iter(run_answer(model, list(inputs), "ONNX Runtime cannot run your model").values()))


def _reference(module: nn.Module, *inputs: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        output: np.ndarray = module(*(torch.from_numpy(x) for x in inputs)).numpy()
        return output


def _expect_same_numbers(reference: np.ndarray, actual: np.ndarray, what: str, why: str, **more: Any) -> None:
    """Feedback ``what`` unless ``actual`` matches ``reference`` within the float32 tolerance."""
    report = compare_outputs(reference, actual)
    got = f"max abs error {measurement(report.max_abs)}" if report.max_abs is not None else str(report).splitlines()[0]
    expect(report.passed, what, why=why, got=got, **more)


# ------------------------------------------------------------------------------------------------ 02.1


def _legacy_export(model: onnx.ModelProto) -> bool:
    """Whether the TorchScript-based legacy exporter (``dynamo=False``) wrote the file: it names nodes after the
    module scopes they came from (``/attention/MatMul``); the default exporter names them ``node_<op>_<n>``."""
    names = [n.name for n in model.graph.node if n.name]
    return bool(names) and sum(name.startswith("/") for name in names) > len(names) / 2


def _check_dynamic_batch(path: Any) -> str:
    model = _load_answer(path)
    expect(
        not _legacy_export(model),
        "this file was written by the legacy TorchScript exporter, not by the default one",
        why="the exercise is about what the default exporter (torch.export) concludes from your example input; "
        "switching exporters hides that cause instead of dealing with it, and the legacy exporter is deprecated",
        expected="an export by torch.onnx.export's default exporter",
        got="node names from TorchScript scopes (" + ", ".join(n.name for n in model.graph.node[:2]) + ", ...)",
    )
    _expect_dynamic_batch(model)
    digits = load_digits().x_test
    reference_model = patch_classifier()
    for batch in (1, 7):
        x = digits[:batch]
        _expect_same_numbers(
            _reference(reference_model, x),
            _run(model, x),
            f"with a batch of {batch} the numbers differ from lesson02.patch_classifier()'s",
            why="the check compares with the seeded model the exercise defines; another model (other weights, "
            "training mode) computes other numbers",
        )
    return "the batch dimension is symbolic, and batches of 1 and 7 give PyTorch's numbers"


dynamic_batch = Exercise(
    "02.1",
    "Export the patch classifier with a dynamic batch",
    _check_dynamic_batch,
    hints=[
        "Print the input shape of your export: onnx.load(path).graph.input[0]. Is the first dimension a name or "
        "a number? The Dim you passed is right.",
        "Look at the example input, not at dynamic_shapes. Section 3: what does torch.export conclude about a "
        "dimension whose example size is 0 or 1?",
        "Export with an example batch of 2 or more, e.g. torch.rand(2, 1, 8, 8), and the same dynamic_shapes.",
    ],
    solution_code="""
import onnx
import torch
from torch.export import Dim

from course_utils.paths import artifact_path

path = artifact_path("solution_patch_classifier.onnx", lesson="02")
example = torch.rand(2, 1, 8, 8)  # a batch of 2: torch.export specializes example sizes 0 and 1
torch.onnx.export(
    lesson02.patch_classifier(),
    (example,),
    path,
    dynamic_shapes={"x": {0: Dim("batch")}},
    external_data=False,
    verbose=False,
)
assert onnx.load(path).graph.input[0].type.tensor_type.shape.dim[0].dim_param  # a name: the batch is dynamic
lesson02.dynamic_batch.check(path)
""",
    giveaways=("rand(2", "batch of 2", "at least 2", "2 or more", ">= 2", "0 or 1"),
)


# ------------------------------------------------------------------------------------------------ 02.2


def _check_control_flow(path: Any) -> str:
    model = _load_answer(path)
    inputs = _user_inputs(model)
    expect(len(inputs) == 1, "the model should have exactly one input (the image)", got=[v.name for v in inputs])
    dims = _dims(inputs[0])
    expect(
        isinstance(dims[0], str) and dims[0] != "",
        "the batch dimension is fixed",
        why="the starting export asked for a dynamic batch; a server sends whatever number of images arrive "
        "together, so the fix must keep it",
        expected="a named (symbolic) first dimension",
        got=shape_text(dims),
    )
    reference_model = auto_scale_cnn()
    results = {}
    for label, x in control_flow_inputs(20).items():
        results[label] = compare_outputs(_reference(reference_model, x), _run(model, x)).passed
    wrong = [label for label, ok in results.items() if not ok]
    # A traced export fails for exactly one kind of input (raw or scaled, bright and faint alike; a mixed batch
    # goes the raw way); any other pattern means the graph does decide at run time, but by another rule.
    raw = {"raw 0..16", "faint raw (max 12)", "a batch mixing raw and scaled"}
    ops = {n.op_type for n in model.graph.node}
    traced = set(wrong) in (raw, set(results) - raw) and not ops & {"If", "Where"}
    expect(
        not wrong,
        f"for {' and '.join(wrong)} pixels your ONNX model's scores differ from PyTorch's",
        why="the graph holds only one of the model's two paths: the exporter recorded the one your example input "
        "took, and the other kind of input needs the other"
        if traced
        else "the graph does choose at run time, but not by the model's rule (divide the whole batch by 16 when its "
        "largest value is above 1, otherwise leave it)",
        expected="the same scores as lesson02.auto_scale_cnn() for every kind of input: " + ", ".join(results),
        got=f"matches for: {', '.join(k for k, ok in results.items() if ok) or 'none of them'}",
    )
    kind = "an If node" if "If" in ops else "a Where node" if "Where" in ops else "the branch in the graph"
    return f"raw and scaled pixels, bright and faint, all give PyTorch's scores: the graph decides at run time ({kind})"


control_flow = Exercise(
    "02.2",
    "Find why this export gives wrong answers, and fix it",
    _check_control_flow,
    hints=[
        "Print the warnings the export cell caught: one of them is a TracerWarning. What does it say about a "
        "Python `if`? Then list the graph's operators: is there anything that could choose?",
        "Your example input was in [0, 1), so `x / 16` never ran while the legacy exporter traced: the graph has no "
        "branch at all. The choice must become a tensor operation, which the default exporter can capture.",
        "In a subclass, write the forward as `x = torch.where(x.max() > 1, x / 16, x)` (or use torch.cond), then "
        "export it with the default exporter (no dynamo=False).",
    ],
    solution_code="""
import torch
from torch.export import Dim

from course_utils.paths import artifact_path


class FixedAutoScaleCNN(lesson02.AutoScaleCNN):
    def forward(self, x):
        # a tensor op instead of a Python if: the choice is made at run time, inside the graph
        x = torch.where(x.max() > 1, x / 16, x)
        return self.cnn(x)


path = artifact_path("solution_auto_scale.onnx", lesson="02")
torch.onnx.export(
    FixedAutoScaleCNN().eval(),
    (torch.rand(2, 1, 8, 8),),
    path,
    dynamic_shapes={"x": {0: Dim("batch")}},
    external_data=False,
    verbose=False,
)
lesson02.control_flow.check(path)
""",
    giveaways=("torch.where", "torch.cond", "where(", "cond("),
)


# ------------------------------------------------------------------------------------------------ 02.3


def _check_parity(model: Any, reference: Any) -> str:
    expect(
        isinstance(model, nn.Module),
        "pass the PyTorch model first, then the reference it computed: check(model, reference)",
        got=type(model).__name__,
    )
    if isinstance(reference, torch.Tensor):
        reference = reference.detach().numpy()
    expect(
        isinstance(reference, np.ndarray),
        "the reference should be the model's logits on the test set, as a tensor or a NumPy array",
        got=type(reference).__name__,
    )
    x = load_digits().x_test
    expect(
        reference.shape == (len(x), 10),
        "compare on the whole test set: the reference should hold one row of 10 logits per test digit",
        expected=f"shape ({len(x)}, 10)",
        got=f"shape {reference.shape}",
    )
    # Run a copy: calling a module in training mode updates BatchNorm's running statistics.
    try:
        ours = _reference(copy.deepcopy(model), x)
    except RuntimeError as error:  # a model on another device, in float64, ...
        raise NotYet(f"PyTorch could not run your model on the test digits: {str(error).splitlines()[0]}") from None
    expect(
        compare_outputs(ours, reference).passed,
        "the reference is not what the model you passed computes on the test digits",
        why="parity compares the PyTorch model with its export; a reference from anything else (the ONNX output "
        "itself, another model, the model before a change) proves nothing about it",
    )
    moved = _moved_statistics(model)
    expect(
        not moved or model.training,
        "your model now runs in inference mode, but its BatchNorm statistics are no longer the trained ones",
        why="each forward pass made before the switch updated BatchNorm's running mean and variance, moving them "
        "away from the saved weights: this model is no longer the one that was exported",
        expected="the running statistics stored in data/digits_cnn.pt",
        got=f"{len(moved)} BatchNorm buffer(s) differ from the saved weights ({', '.join(moved[:2])}"
        + (", ...)" if len(moved) > 2 else ")"),
    )
    export = load_answer(_lesson_export())
    onnx_logits = _run(export, x)
    rtol, atol = DEFAULT_TOLERANCES["float32"]
    largest = float(np.abs(onnx_logits - reference).max())
    expect(
        bool(np.allclose(onnx_logits, reference, rtol=rtol, atol=atol)),
        f"the reference differs from ONNX Runtime's logits by up to {measurement(largest)}",
        why="float32 rounding makes differences around 1e-6; errors this large mean the PyTorch model computes "
        "something else than the export. The export froze how each layer behaves at inference: BatchNorm "
        "normalizes with the statistics it stored during training",
        expected=f"every logit within atol={atol} + rtol={rtol} x |reference| (float32 defaults)",
        got=f"max abs error {measurement(largest)}",
    )
    return f"the export matches PyTorch on all {len(x)} test digits at float32 tolerance (max abs error {measurement(largest)})"


def _moved_statistics(model: nn.Module) -> list[str]:
    """The BatchNorm running statistics of ``model`` that differ from the trained weights in data/ (empty for a
    model that is not the DigitsCNN)."""
    from course_utils.paths import data_path

    saved = torch.load(data_path("digits_cnn.pt"), weights_only=True)
    state = model.state_dict()
    if set(state) != set(saved):
        return []
    stats = ("running_mean", "running_var", "num_batches_tracked")
    weights_kept = all(
        state[k].shape == saved[k].shape and torch.equal(state[k], saved[k]) for k in saved if not k.endswith(stats)
    )
    keys = [k for k in saved if k.endswith(stats[:2])]
    if not weights_kept:
        return []  # another model (untrained, retrained): the parity check itself says what differs
    return [k for k in keys if state[k].shape != saved[k].shape or not torch.allclose(state[k], saved[k])]


def _lesson_export() -> Any:

    return artifact_path("digits_cnn.onnx", lesson="02")


parity = Exercise(
    "02.3",
    "Make this parity check pass",
    _check_parity,
    hints=[
        "Look at the size of the errors: rounding differences are around 1e-6; these are far larger, so the two "
        "sides compute different things. The export is fine (section 1 checked it).",
        "The exported graph froze how BatchNorm behaves at inference. How does the freshly built PyTorch model "
        "behave? Print model.training.",
        "Call model.eval() right after load_state_dict, before the model runs for the first time, then compute "
        "the reference. Switching later is too late: the run in training mode has already updated BatchNorm's "
        "running statistics, so rebuild the model (rerun the cell with the fix in it).",
    ],
    solution_code="""
import numpy as np
import onnxruntime as ort
import torch

from course_utils import load_digits
from course_utils.models import DigitsCNN
from course_utils.paths import artifact_path, data_path

model = DigitsCNN()
model.load_state_dict(torch.load(data_path("digits_cnn.pt"), weights_only=True))
model.eval()  # BatchNorm uses its stored statistics, as the export does
x = load_digits().x_test
with torch.no_grad():
    reference = model(torch.from_numpy(x)).numpy()
session = ort.InferenceSession(artifact_path("digits_cnn.onnx", lesson="02"), providers=["CPUExecutionProvider"])
(onnx_logits,) = session.run(None, {"image": x})
np.testing.assert_allclose(onnx_logits, reference, rtol=1e-4, atol=1e-5)
lesson02.parity.check(model, reference)
""",
    giveaways=("eval()", "model.eval", ".eval(", "model.training", "training mode", "train()"),
)


# ------------------------------------------------------------------------------------------------ 02.4


def _median_inputs(batch: int) -> dict[str, np.ndarray]:
    """Test digits, and random images whose columns have no ties (so every middle value counts)."""
    rng = np.random.default_rng(4)
    return {
        "test digits": load_digits().x_test[:batch],
        "random images": rng.random((batch, 1, 8, 8), dtype=np.float32),
    }


def _check_missing_operator(path: Any) -> str:
    model = _load_answer(path)
    _expect_dynamic_batch(model)
    reference_model = column_median_classifier()
    for batch in (1, 6):
        for kind, x in _median_inputs(batch).items():
            _expect_same_numbers(
                _reference(reference_model, x),
                _run(model, x),
                f"for a batch of {batch} {kind} your model's scores differ from lesson02.column_median_classifier()'s",
                why="a replacement for an operator must compute exactly what the original computes, for every input: "
                "a summary that is close on smooth images drifts on others",
                expected="every score within the float32 tolerance of the PyTorch model's",
            )
    return "a dynamic batch, and PyTorch's scores for digits and random images at batches of 1 and 6"


missing_operator = Exercise(
    "02.4",
    "Export a model whose operator has no ONNX translation (transfer)",
    _check_missing_operator,
    hints=[
        "Run the export inside explain_export_errors() (section 7): which of the three steps fails, and which ATen "
        "operator does it name? Which line of forward() calls it?",
        "Section 7 gave two ways out that keep the default exporter: a custom_translation_table entry, or a forward() "
        "rewritten with operators that export (subclass the model and keep its weights). Find out exactly what "
        "torch.median returns for an even number of values before you replace it.",
        "torch.median of 8 values is the lower of the two middle ones, not their mean. Subclass "
        "lesson02.ColumnMedianClassifier, override forward with x[:, 0].sort(dim=1).values[:, 3] as the column "
        "summary, load the original model's state_dict, and export with an example batch of 2 and a dynamic batch.",
    ],
    solution_code="""
import numpy as np
import onnxruntime as ort
import torch
from torch.export import Dim

from course_utils import load_digits
from course_utils.paths import artifact_path


class ColumnMedianRewritten(lesson02.ColumnMedianClassifier):
    def forward(self, x):
        # torch.median of an even count (8 rows) returns the lower middle value: index 3 once sorted.
        # Sort exports (as TopK); aten.median.dim has no ONNX translation.
        columns = x[:, 0].sort(dim=1).values[:, 3]
        return self.head(columns)


model = lesson02.column_median_classifier()
rewritten = ColumnMedianRewritten()
rewritten.load_state_dict(model.state_dict())  # the same weights: only forward() changes
path = artifact_path("solution_column_median.onnx", lesson="02")
torch.onnx.export(
    rewritten.eval(),
    (torch.rand(2, 1, 8, 8),),
    path,
    input_names=["image"],
    output_names=["scores"],
    dynamic_shapes={"x": {0: Dim("batch")}},
    external_data=False,
    verbose=False,
)
x = load_digits().x_test
(scores,) = ort.InferenceSession(path, providers=["CPUExecutionProvider"]).run(None, {"image": x})
with torch.no_grad():
    np.testing.assert_allclose(scores, model(torch.from_numpy(x)).numpy(), rtol=1e-4, atol=1e-5)
lesson02.missing_operator.check(path)
""",
    giveaways=("sort(", ".sort", "topk", "[:, 3]", "values[:, 3", "lower of the two", "lower middle", "kthvalue"),
)


# ------------------------------------------------------------------------------------------------ 02.5


def _check_two_inputs(path: Any) -> str:
    model = _load_answer(path)
    inputs = _user_inputs(model)
    names = [v.name for v in inputs]
    expect(
        names == ["image", "temperature"],
        "the ONNX inputs should be called image and temperature, in that order",
        why="a client feeds a session by input name",
        expected=["image", "temperature"],
        got=names,
    )
    outputs = [v.name for v in model.graph.output]
    expect(
        outputs == ["probabilities"],
        "the ONNX output should be called probabilities",
        why="a client reads the result by output name; the exporter's generated names change with the model's code",
        expected=["probabilities"],
        got=outputs,
    )
    wanted = {"image": [1, 8, 8], "temperature": [1]}
    for value in inputs:
        dims = _dims(value)
        expect(
            dims[1:] == wanted[value.name],
            f"input {value.name} has the wrong shape",
            expected=f"[batch, {', '.join(map(str, wanted[value.name]))}]",
            got=shape_text(dims),
        )
        expect(
            isinstance(dims[0], str) and dims[0] != "",
            f"the batch dimension of input {value.name} is fixed",
            why="a session would accept only that one batch size for it, and the two inputs always come in pairs",
            expected="a named (symbolic) first dimension",
            got=shape_text(dims),
        )
    batch_names = {value.name: _dims(value)[0] for value in inputs}
    expect(
        batch_names["image"] == batch_names["temperature"],
        "the two inputs' batch dimensions have different names",
        why="a dimension's name says which sizes are equal: with two names the file says images and temperatures "
        "may come in batches of different sizes, which this model cannot compute, and a runtime cannot catch a "
        "mismatched pair before running",
        expected="one shared name for both batch dimensions",
        got=", ".join(f"{name}: {dim}" for name, dim in batch_names.items()),
    )
    reference_model = temperature_cnn()
    digits = load_digits().x_test
    for batch in (1, 5):
        image = digits[:batch]
        temperature = np.linspace(0.5, 3.0, batch, dtype=np.float32).reshape(batch, 1)
        _expect_same_numbers(
            _reference(reference_model, image, temperature),
            _run(model, image, temperature),
            f"with a batch of {batch} the probabilities differ from lesson02.temperature_cnn()'s",
            why="the check compares with the model the exercise defines, on test digits and varied temperatures",
        )
    return "two inputs with a shared dynamic batch, and PyTorch's probabilities for batches of 1 and 5"


two_inputs = Exercise(
    "02.5",
    "Export a model with two inputs (transfer)",
    _check_two_inputs,
    hints=[
        "The example inputs are a tuple with one tensor per forward() parameter, in order. What shape does each need?",
        "dynamic_shapes has one entry per forward() parameter name. The same Dim object for both says the two "
        "batches are one size; input_names and output_names name the ONNX side.",
        "torch.onnx.export(model, (torch.rand(2, 1, 8, 8), torch.ones(2, 1)), path, input_names=['image', "
        "'temperature'], output_names=['probabilities'], dynamic_shapes={'image': {0: batch}, 'temperature': "
        "{0: batch}} with batch = Dim('batch'), external_data=False).",
    ],
    solution_code="""
import warnings

import numpy as np
import onnxruntime as ort
import torch
from torch.export import Dim

from course_utils import load_digits
from course_utils.paths import artifact_path

model = lesson02.temperature_cnn()
path = artifact_path("solution_temperature_cnn.onnx", lesson="02")
batch = Dim("batch")  # one Dim for both inputs: their batches are the same size
with warnings.catch_warnings():  # torch notes that the shared name "batch" is used once: harmless
    warnings.simplefilter("ignore", UserWarning)
    torch.onnx.export(
        model,
        (torch.rand(2, 1, 8, 8), torch.ones(2, 1)),
        path,
        input_names=["image", "temperature"],
        output_names=["probabilities"],
        dynamic_shapes={"image": {0: batch}, "temperature": {0: batch}},
        external_data=False,
        verbose=False,
    )
session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
assert [i.name for i in session.get_inputs()] == ["image", "temperature"]
image, temperature = load_digits().x_test[:3], np.full((3, 1), 2.0, dtype=np.float32)
(probabilities,) = session.run(None, {"image": image, "temperature": temperature})
with torch.no_grad():
    expected = model(torch.from_numpy(image), torch.from_numpy(temperature)).numpy()
np.testing.assert_allclose(probabilities, expected, rtol=1e-4, atol=1e-5)
lesson02.two_inputs.check(path)
""",
    giveaways=("rand(2", 'dim("batch")', "input_names=", "output_names="),
)
