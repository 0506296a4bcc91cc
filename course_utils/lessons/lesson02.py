"""Exercises of lesson 02 (exporting from PyTorch, checking an export): a dynamic batch that stays dynamic, a
data-dependent branch that survives export, a parity check that passes for the right reason, and an export an
older runtime can load.

    from course_utils.lessons import lesson02
    lesson02.dynamic_batch.check(path)
    lesson02.dynamic_batch.hint()        # .hint(2) for more
    lesson02.dynamic_batch.solution()

The models the exercises export are defined here (:class:`PatchClassifier`, :class:`AutoScaleCNN`), so the
checks can compare the learner's ONNX file with the very model it came from.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import torch
from torch import nn

from ..data import load_digits, load_digits_cnn
from ..exercises import Exercise, NotYet, expect
from ..graph import Dim, graph_inputs, shape, shape_text
from ..paths import artifact_path, relative_to_repo
from ..verify import DEFAULT_TOLERANCES, ParityReport, check_model, compare_outputs, ir_version_issues
from ._answers import load_answer, run_answer

__all__ = [
    "OLD_RUNTIME",
    "AutoScaleCNN",
    "PatchClassifier",
    "auto_scale_cnn",
    "control_flow",
    "dynamic_batch",
    "older_runtime",
    "parity",
    "patch_classifier",
]

#: The limits of the "older runtime" in exercise 02.4 (what runtime_limits() would report on that server).
OLD_RUNTIME: dict[str, int] = {"max_ir_version": 9, "max_opset": 18}


class PatchClassifier(nn.Module):
    """Cuts an ``(N, 1, 8, 8)`` digit into four 4x4 patches and classifies it with one attention layer.

    With an example batch of 1, the attention layer pins the batch to 1: ``torch.export`` reports it and
    ``torch.onnx.export`` silently applies the suggested fix, so the exported batch is fixed (exercise 02.1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(16, 32)
        self.attention = nn.MultiheadAttention(32, num_heads=4, batch_first=True)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        patches = x.reshape(n, 2, 4, 2, 4).permute(0, 1, 3, 2, 4).reshape(n, 4, 16)
        h = self.embed(patches)
        h, _ = self.attention(h, h, h, need_weights=False)
        return self.head(h.mean(1))


def patch_classifier(seed: int = 0) -> PatchClassifier:
    """A :class:`PatchClassifier` in eval mode with seeded random weights (the same ones every call)."""
    torch.manual_seed(seed)
    return PatchClassifier().eval()


class AutoScaleCNN(nn.Module):
    """The trained DigitsCNN behind a convenience: raw scikit-learn pixels (0..16) are rescaled to [0, 1].

    The ``if`` depends on the *values* of the input, which is what exercise 02.2 is about.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cnn = load_digits_cnn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.max() > 1:  # raw 0..16 pixels
            x = x / 16
        return self.cnn(x)


def auto_scale_cnn() -> AutoScaleCNN:
    """An :class:`AutoScaleCNN` in eval mode."""
    return AutoScaleCNN().eval()


# ----------------------------------------------------------------------------------------------- helpers


def _load_answer(answer: Any) -> onnx.ModelProto:
    """The learner's exported model from a path (or bytes/ModelProto); a missing or broken file is feedback."""
    return load_answer(
        answer,
        missing="no answer yet: pass the path you exported the model to",
        hint="run the export cell above first; it writes the file",
    )


def _dims(value: onnx.ValueInfoProto) -> list[Dim]:
    return list(shape(value.type) or ())


def _user_inputs(model: onnx.ModelProto) -> list[onnx.ValueInfoProto]:
    return graph_inputs(model.graph)


def _expect_dynamic_batch(model: onnx.ModelProto, hint_when_one: str, hint_otherwise: str) -> None:
    inputs = _user_inputs(model)
    expect(len(inputs) == 1, "the model should have exactly one input (the image)", got=[v.name for v in inputs])
    dims = _dims(inputs[0])
    expect(
        dims[1:] == [1, 8, 8],
        "the input should be images of shape (N, 1, 8, 8)",
        expected="[batch, 1, 8, 8]",
        got=shape_text(dims),
        hint="export with an example input like torch.rand(2, 1, 8, 8)",
    )
    expect(
        isinstance(dims[0], str) and dims[0] != "",
        "the batch dimension is still fixed",
        expected="a named (symbolic) first dimension, e.g. [batch, 1, 8, 8]",
        got=shape_text(dims),
        hint=hint_when_one if dims[0] == 1 else hint_otherwise,
    )
    out_dims = _dims(model.graph.output[0])
    expect(
        bool(out_dims) and isinstance(out_dims[0], str) and out_dims[0] != "",
        "the input's batch is dynamic but the output's is fixed: the model's code fixed the batch somewhere",
        got=shape_text(out_dims),
        hint=hint_when_one,
    )


def _run(model: Any, x: np.ndarray) -> np.ndarray:
    return next(iter(run_answer(model, x, "ONNX Runtime cannot run your model").values()))


def _reference(module: nn.Module, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module(torch.from_numpy(x)).numpy()


# ------------------------------------------------------------------------------------------------ 02.1

_FROZEN_BY_ONE = (
    "your example input has a batch of 1. The attention layer pins the batch to the example's size; "
    "torch.export reports that, and torch.onnx.export silently applies its suggested fix (batch = 1), "
    "dropping Dim('batch'). Export with an example batch of 2 or more: torch.rand(2, 1, 8, 8)"
)


def _check_dynamic_batch(path: Any) -> str:
    model = _load_answer(path)
    _expect_dynamic_batch(
        model,
        _FROZEN_BY_ONE,
        "pass dynamic_shapes={'x': {0: Dim('batch')}} (the key is forward()'s parameter name)",
    )
    digits = load_digits().x_test
    reference_model = patch_classifier()
    for batch in (1, 7):
        x = digits[:batch]
        report = compare_outputs(_reference(reference_model, x), _run(model, x))
        expect(
            report.passed,
            f"with a batch of {batch} the numbers differ from lesson02.patch_classifier()'s",
            got=f"max abs error {report.max_abs:.1e}" if report.max_abs is not None else str(report),
            hint="export the model returned by lesson02.patch_classifier() (seeded weights), in eval mode",
        )
    return "the batch dimension is symbolic, and batches of 1 and 7 give PyTorch's numbers"


dynamic_batch = Exercise(
    "02.1",
    "Export the patch classifier with a dynamic batch",
    _check_dynamic_batch,
    hints=[
        "Print the input shape of your export (check_model(path) lists it). Is the first dimension a name or 1?",
        "The Dim is right; look at the example input. What does torch.export conclude about a size it sees as 1?",
        "Use an example batch of 2 or more: torch.rand(2, 1, 8, 8).",
    ],
    solution_code="""
import torch
from torch.export import Dim

from course_utils.paths import artifact_path

model = lesson02.patch_classifier()
path = artifact_path("ex1_patch_classifier.onnx", lesson="02")
example = torch.rand(2, 1, 8, 8)  # a batch of 2: a size of 1 would be specialized away
torch.onnx.export(model, (example,), path, dynamic_shapes={"x": {0: Dim("batch")}}, external_data=False, verbose=False)
lesson02.dynamic_batch.check(path)
""",
)


# ------------------------------------------------------------------------------------------------ 02.2


def _control_flow_inputs(batch: int) -> dict[str, np.ndarray]:
    """Both kinds of input the model accepts, at full and at reduced contrast: a fix that divides by the
    batch's maximum, decides per pixel, or stretches every batch to [0, 1] gets one of these wrong."""
    scaled = load_digits().x_test[:batch]
    raw = scaled * np.float32(16)
    return {
        "scaled [0, 1]": scaled,
        "raw 0..16": raw,
        "faint scaled (max 0.75)": scaled * np.float32(0.75),
        "faint raw (max 12)": raw * np.float32(0.75),
    }


def _check_control_flow(path: Any) -> str:
    model = _load_answer(path)
    inputs = _user_inputs(model)
    expect(len(inputs) == 1, "the model should have exactly one input (the image)", got=[v.name for v in inputs])
    dims = _dims(inputs[0])
    batch = dims[0] if isinstance(dims[0], int) and dims[0] > 0 else 20
    reference_model = auto_scale_cnn()
    results = {}
    for label, x in _control_flow_inputs(batch).items():
        results[label] = compare_outputs(_reference(reference_model, x), _run(model, x)).passed
    wrong = [label for label, ok in results.items() if not ok]
    # A traced export fails for exactly one kind of input (raw or scaled, bright and faint alike); any other
    # pattern means the graph does decide at run time, but by another rule than the model's.
    raw = {"raw 0..16", "faint raw (max 12)"}
    traced = set(wrong) in (raw, set(results) - raw)
    expect(
        not wrong,
        f"for {' and '.join(wrong)} pixels your ONNX model's scores differ from PyTorch's",
        expected="the same scores as lesson02.auto_scale_cnn() for every kind of input: " + ", ".join(results),
        got=f"matches for: {', '.join(k for k, ok in results.items() if ok) or 'none of them'}",
        hint="the exporter traced only the branch your example input took (the legacy exporter says so in a "
        "TracerWarning): write the if with torch.where or torch.cond, and export with the default exporter"
        if traced
        else "keep the model's rule exactly: divide the whole batch by 16 when its maximum is above 1, otherwise "
        "leave it unchanged, i.e. torch.where(x.max() > 1, x / 16, x) (or torch.cond)",
    )
    ops = {n.op_type for n in model.graph.node}
    kind = "an If node" if "If" in ops else "a Where node" if "Where" in ops else "the branch in the graph"
    return f"raw and scaled pixels, bright and faint, all give PyTorch's scores: the graph decides at run time ({kind})"


control_flow = Exercise(
    "02.2",
    "Find why this export gives wrong answers, and fix it",
    _check_control_flow,
    hints=[
        "Print the warnings the export cell caught: one of them is a TracerWarning. What does it say about `if`?",
        "Your example input was in [0, 1), so `x / 16` never ran while the exporter traced. The graph has no "
        "branch at all. Rewrite the forward so the choice is a tensor operation.",
        "`x = torch.where(x.max() > 1, x / 16, x)` (or torch.cond) in a subclass's forward, then export it with "
        "the default exporter (no dynamo=False).",
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


path = artifact_path("ex2_auto_scale.onnx", lesson="02")
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
)


# ------------------------------------------------------------------------------------------------ 02.3


def _check_parity(report: Any, model: Any = None) -> str:
    expect(
        isinstance(report, ParityReport),
        "pass the report that compare_outputs(...) returned",
        got=type(report).__name__,
        hint="report = compare_outputs(reference, run_onnx(path, x))",
    )
    expect(isinstance(model, nn.Module), "also pass the PyTorch model: lesson02.parity.check(report, model)")
    expect(
        not model.training,
        "the PyTorch model is in training mode",
        expected="model.training == False",
        got="model.training == True",
        hint="BatchNorm uses each batch's own statistics in training mode (and Dropout drops values), while the "
        "export froze eval-mode behaviour: call model.eval() before computing the reference",
    )
    float32_rtol, float32_atol = DEFAULT_TOLERANCES["float32"]
    for row in report.outputs:
        expect(
            row.rtol is None or (row.rtol <= float32_rtol and (row.atol or 0.0) <= float32_atol),
            f"output '{row.name}' was compared with a looser tolerance than float32's default",
            expected=f"rtol <= {float32_rtol}, atol <= {float32_atol}",
            got=f"rtol={row.rtol}, atol={row.atol}",
            hint="fix the cause instead of widening the tolerance: leave rtol/atol at their defaults",
        )
    expect(
        report.passed,
        "the parity report does not pass yet",
        got=next((f"{o.name}: max abs error {o.max_abs}" for o in report.outputs if not o.passed), "no outputs"),
        hint="errors of 1e-1 or more are not rounding: the two models compute different things",
    )
    x = load_digits().x_test
    compared = [o.expected_shape[0] for o in report.outputs if o.expected_shape]
    expect(
        bool(compared) and compared[0] == len(x),
        "compare on the whole test set",
        expected=f"{len(x)} rows",
        got=f"{compared[0] if compared else 0} rows",
    )
    # A report only holds error sizes, so redo the comparison it claims: the model passed, run by PyTorch here,
    # against the lesson's export run by ONNX Runtime. A report of something compared with itself cannot pass.
    export = artifact_path("digits_cnn.onnx", lesson="02")
    expect(
        export.is_file(),
        f"the export to compare with is missing: {relative_to_repo(export)}",
        hint="run the export cell of section 1 (it writes digits_cnn.onnx), then this cell again",
    )
    try:
        ours = compare_outputs(_reference(model, x), _run(export, x))
    except RuntimeError as error:  # a model on another device, in float64, ...
        raise NotYet(
            f"PyTorch could not run your model on the test digits: {str(error).splitlines()[0]}",
            hint="pass the DigitsCNN as it is in the exercise, on the CPU and in float32",
        ) from None
    expect(
        ours.passed,
        "the PyTorch model you passed does not give the export's numbers",
        got=f"max abs error {ours.max_abs:.1e} between its outputs and ONNX Runtime's"
        if ours.max_abs is not None
        else str(ours).splitlines()[0],
        hint="compare the model you exported: DigitsCNN() with model.load_state_dict(torch.load(data_path("
        "'digits_cnn.pt'), weights_only=True)), in eval mode",
    )
    expect(
        not (report.max_abs == 0.0 and ours.max_abs),
        "your report compares something with itself: its errors are exactly 0, while PyTorch and ONNX Runtime "
        "always differ a little in float32",
        expected=f"a max abs error around {ours.max_abs:.0e} (PyTorch vs ONNX Runtime)",
        got="0.0",
        hint="compute the reference with the PyTorch model and the other side with run_onnx(path, x): "
        "compare_outputs(reference, run_onnx(path, x))",
    )
    return f"the export matches PyTorch on all {len(x)} test digits at float32 tolerance"


parity = Exercise(
    "02.3",
    "Make this parity check pass",
    _check_parity,
    hints=[
        "Look at the size of the errors: rounding differences are around 1e-6; these are far larger, so the two "
        "sides compute different things.",
        "The exported model froze eval-mode behaviour. In which mode is the freshly built PyTorch model?",
        "Call model.eval() before computing the reference (and keep the default tolerances).",
    ],
    solution_code="""
import torch

from course_utils import load_digits
from course_utils.models import DigitsCNN
from course_utils.paths import artifact_path, data_path
from course_utils.runtime import run_onnx
from course_utils.verify import compare_outputs

model = DigitsCNN()
model.load_state_dict(torch.load(data_path("digits_cnn.pt"), weights_only=True))
model.eval()  # BatchNorm must use its stored statistics, as the export does
x = load_digits().x_test
with torch.no_grad():
    reference = model(torch.from_numpy(x))
report = compare_outputs(reference, run_onnx(artifact_path("digits_cnn.onnx", lesson="02"), x))
lesson02.parity.check(report, model)
""",
)


# ------------------------------------------------------------------------------------------------ 02.4


def _check_older_runtime(path: Any) -> str:
    model = _load_answer(path)
    max_ir, max_opset = OLD_RUNTIME["max_ir_version"], OLD_RUNTIME["max_opset"]
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    expect(
        opset is not None and opset <= max_opset,
        f"the model imports opset {opset} of ai.onnx; the older runtime supports up to {max_opset}",
        expected=f"opset <= {max_opset}",
        got=opset,
        hint=f"torch.onnx.export(..., opset_version={max_opset})",
    )
    expect(
        model.ir_version <= max_ir,
        f"the model has IR version {model.ir_version}; the older runtime reads up to {max_ir}",
        expected=f"ir_version <= {max_ir}",
        got=model.ir_version,
        hint="the torch.export-based exporter writes IR version 10 whatever the opset. Either lower it safely, "
        f"model = lower_ir_version(model, {max_ir}) (from course_utils.verify; it removes the IR-10-only metadata "
        "first), and save it again; or export with dynamo=False, which writes the IR version that matches the "
        f"opset (IR 8 for opset {max_opset})",
    )
    # onnx.checker does not compare the fields a file uses with the IR version it declares, so a number lowered
    # by hand passes it; this check does not let it pass.
    newer = ir_version_issues(model, max_ir)
    expect(
        not newer,
        f"the model declares IR {model.ir_version} but uses what IR {max_ir} does not have",
        expected=f"nothing newer than IR {max_ir}",
        got="; ".join(newer),
        hint="setting model.ir_version only changes the number: the exporter's metadata_props (module names, stack "
        f"traces) are still there. Use model = lower_ir_version(model, {max_ir}) from course_utils.verify, which "
        "removes them first, or export with dynamo=False",
    )
    report = check_model(model)
    expect(
        report.passed,
        "onnx.checker or shape inference rejects the model",
        got=next((f"{s.name}: {s.detail}" for s in report.steps if not s.passed), ""),
        hint="re-export the model for the target (opset_version=18) instead of editing the file",
    )
    _expect_dynamic_batch(
        model, "export with an example batch of 2", "pass dynamic_shapes={'x': {0: Dim('batch')}} (or dynamic_axes)"
    )
    x = load_digits().x_test
    result = compare_outputs(_reference(load_digits_cnn(), x), _run(model, x))
    expect(
        result.passed,
        "the exported model's numbers differ from the DigitsCNN's",
        hint="export course_utils.load_digits_cnn() (it is already in eval mode)",
    )
    return (
        f"IR version {model.ir_version} and opset {opset}, and nothing in the file newer than IR {max_ir}: loadable "
        "by the older runtime, with a dynamic batch and the DigitsCNN's numbers on the test set"
    )


older_runtime = Exercise(
    "02.4",
    "Export for an older runtime",
    _check_older_runtime,
    hints=[
        f"Two numbers matter: the opset (opset_version=...) and the IR version. The target reads opset <= "
        f"{OLD_RUNTIME['max_opset']} and IR <= {OLD_RUNTIME['max_ir_version']}.",
        "opset_version sets the opset only; the IR version is the exporter's choice. Print model.ir_version. "
        "Lowering that number is only safe if the file uses nothing newer: ir_version_issues(model, 9) lists it.",
        f"After exporting with opset_version={OLD_RUNTIME['max_opset']}: model = "
        f"lower_ir_version(onnx.load(path), {OLD_RUNTIME['max_ir_version']}); onnx.save(model, path). "
        "(Or export with dynamo=False, which writes IR 8 for opset 18.)",
    ],
    solution_code="""
import onnx
import torch
from torch.export import Dim

from course_utils import load_digits_cnn
from course_utils.paths import artifact_path
from course_utils.verify import ir_version_issues, lower_ir_version

path = artifact_path("ex4_digits_opset18.onnx", lesson="02")
torch.onnx.export(
    load_digits_cnn(),
    (torch.rand(2, 1, 8, 8),),
    path,
    opset_version=18,
    dynamic_shapes={"x": {0: Dim("batch")}},
    external_data=False,
    verbose=False,
)
model = onnx.load(path)
print("beyond IR 9 in this file:", ir_version_issues(model, 9))
# `model.ir_version = 9` alone would change only the number: the IR-10-only metadata_props the exporter writes
# (module names, stack traces) would stay, and onnx.checker would not notice. lower_ir_version removes them
# first and refuses if anything else needs IR 10 (nothing does here). Exporting with dynamo=False works too.
model = lower_ir_version(model, 9)
onnx.save(model, path)
lesson02.older_runtime.check(path)
""",
)
