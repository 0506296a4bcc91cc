"""Lesson 02's exercise checks: every hidden solution passes; plausible wrong answers fail, and their feedback
says what is wrong without naming the fix (no giveaway leaks)."""

from __future__ import annotations

import copy
import logging
import re
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in, assert_wrong

from course_utils import paths

torch = pytest.importorskip("torch")

from torch.export import Dim  # noqa: E402

from course_utils import load_digits, load_digits_cnn  # noqa: E402
from course_utils.lessons import lesson02  # noqa: E402
from course_utils.models import DigitsCNN  # noqa: E402
from course_utils.runtime import run_onnx  # noqa: E402

logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
pytestmark = pytest.mark.slow  # each check needs an export (about a second)

EXERCISES = [
    lesson02.dynamic_batch,
    lesson02.control_flow,
    lesson02.parity,
    lesson02.missing_operator,
    lesson02.two_inputs,
]


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary artifacts folder holding artifacts/02/digits_cnn.onnx as the lesson exports it."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        export(
            load_digits_cnn(),
            paths.artifact_path("digits_cnn.onnx", lesson="02"),
            torch.rand(2, 1, 8, 8),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: Dim("batch")}},
        )
        yield folder


def export(model, path: Path, example, **kwargs) -> Path:
    kwargs.setdefault("external_data", False)
    if kwargs.get("dynamo", True):
        kwargs.setdefault("verbose", False)
    examples = example if isinstance(example, tuple) else (example,)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, examples, str(path), **kwargs)
    return path


@pytest.mark.parametrize("exercise", EXERCISES, ids=lambda e: e.id)
def test_solutions_pass(artifacts, exercise):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        run = exercise.run_solution({"lesson02": lesson02})
    assert run.passed, str(run)
    assert len(exercise.hints) >= 2 and exercise.giveaways
    written = re.findall(r'artifact_path\("([^"]+)"', exercise.solution_code)
    assert all(name.startswith("solution_") or name == "digits_cnn.onnx" for name in written), written
    assert (
        "course_utils.runtime" not in exercise.solution_code
        and "course_utils.onnxfile.verify" not in exercise.solution_code
    )


def test_exercise_ids():
    assert [e.id for e in EXERCISES] == ["02.1", "02.2", "02.3", "02.4", "02.5"]


def test_hints_escalate_to_the_fix():
    exercise = lesson02.dynamic_batch
    assert "rand(2" not in exercise.hints[0] and "rand(2" in exercise.hints[-1]


# ------------------------------------------------------------------------------------------------ 02.1


def test_dynamic_batch_frozen_by_an_example_of_one(tmp_path):
    path = export(
        lesson02.patch_classifier(), tmp_path / "p.onnx", torch.rand(1, 1, 8, 8), dynamic_shapes={"x": {0: Dim("b")}}
    )
    feedback = assert_wrong(lesson02.dynamic_batch, lesson02.dynamic_batch.check(path))
    assert feedback.message == "the batch dimension is fixed" and "[1, 1, 8, 8]" in feedback.got
    assert "without a word" in feedback.why


@pytest.mark.parametrize("batch", [1, 2])
def test_dynamic_batch_legacy_exporter_sidesteps_the_lesson(tmp_path, batch):
    # dynamo=False with dynamic_axes gives a symbolic batch and PyTorch's numbers, but never meets torch.export.
    path = export(
        lesson02.patch_classifier(),
        tmp_path / "legacy.onnx",
        torch.rand(batch, 1, 8, 8),
        dynamo=False,
        input_names=["x"],
        dynamic_axes={"x": {0: "batch"}},
    )
    model = onnx.load(path)
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param  # symbolic, as the exercise asks
    feedback = assert_wrong(lesson02.dynamic_batch, lesson02.dynamic_batch.check(path))
    assert "legacy TorchScript exporter" in feedback.message


def test_dynamic_batch_without_dynamic_shapes(tmp_path):
    path = export(lesson02.patch_classifier(), tmp_path / "p.onnx", torch.rand(3, 1, 8, 8))
    feedback = assert_wrong(lesson02.dynamic_batch, lesson02.dynamic_batch.check(path))
    assert "[3, 1, 8, 8]" in feedback.got and "Nothing in the export" in feedback.why


def test_dynamic_batch_other_weights(tmp_path):
    path = export(
        lesson02.patch_classifier(seed=1),
        tmp_path / "p.onnx",
        torch.rand(2, 1, 8, 8),
        dynamic_shapes={"x": {0: Dim("b")}},
    )
    feedback = assert_wrong(lesson02.dynamic_batch, lesson02.dynamic_batch.check(path))
    assert "differ from lesson02.patch_classifier()" in feedback.message


def test_dynamic_batch_missing_or_wrong_answer(tmp_path):
    missing = assert_wrong(lesson02.dynamic_batch, lesson02.dynamic_batch.check(tmp_path / "nothing.onnx"))
    assert "no file at" in missing.message
    assert "pass the path" in lesson02.dynamic_batch.check(42).message
    assert "no answer yet" in lesson02.dynamic_batch.check(None).message


# ------------------------------------------------------------------------------------------------ 02.2


@pytest.mark.parametrize(
    ("scale", "wrong_inputs"),
    [
        (1.0, "raw 0..16 and faint raw (max 12) and a batch mixing raw and scaled"),
        (16.0, "scaled [0, 1] and faint scaled (max 0.75)"),
    ],
)
def test_control_flow_traced_branch_is_caught(tmp_path, scale, wrong_inputs):
    path = export(
        lesson02.auto_scale_cnn(),
        tmp_path / "a.onnx",
        torch.rand(2, 1, 8, 8) * scale,
        dynamo=False,
        input_names=["image"],
        dynamic_axes={"image": {0: "batch"}},
    )
    feedback = assert_wrong(lesson02.control_flow, lesson02.control_flow.check(path))
    assert feedback.message == f"for {wrong_inputs} pixels your ONNX model's scores differ from PyTorch's"
    assert "only one of the model's two paths" in feedback.why


def test_control_flow_fix_that_fixes_the_batch(tmp_path):
    # The right rule, exported without the dynamic batch the starting code had.
    class FixedBatch(lesson02.AutoScaleCNN):
        def forward(self, x):
            return self.cnn(torch.where(x.max() > 1, x / 16, x))

    path = export(FixedBatch().eval(), tmp_path / "f.onnx", torch.rand(20, 1, 8, 8))
    feedback = assert_wrong(lesson02.control_flow, lesson02.control_flow.check(path))
    assert feedback.message == "the batch dimension is fixed" and "[20, 1, 8, 8]" in feedback.got


def test_control_flow_with_torch_cond(tmp_path):
    class CondAutoScale(lesson02.AutoScaleCNN):
        def forward(self, x):
            x = torch.cond(x.max() > 1, lambda t: t / 16, lambda t: t.clone(), (x,))
            return self.cnn(x)

    path = export(
        CondAutoScale().eval(), tmp_path / "c.onnx", torch.rand(2, 1, 8, 8), dynamic_shapes={"x": {0: Dim("batch")}}
    )
    feedback = lesson02.control_flow.check(path)
    assert feedback.passed and "an If node" in feedback.message


class _ClampScale(lesson02.AutoScaleCNN):
    """Wrong fix: divides by the batch's maximum, which is 16 only when some pixel reaches 16."""

    def forward(self, x):
        return self.cnn(x / torch.clamp(x.max(), min=1))


class _ElementwiseScale(lesson02.AutoScaleCNN):
    """Wrong fix: decides per pixel, so raw pixels of value 1 (and below) are left unscaled."""

    def forward(self, x):
        return self.cnn(torch.where(x > 1, x / 16, x))


class _NormalizeScale(lesson02.AutoScaleCNN):
    """Wrong fix: stretches every batch to [0, 1], also scaled batches that are fainter than 1."""

    def forward(self, x):
        return self.cnn(x / x.max())


class _PerImageScale(lesson02.AutoScaleCNN):
    """Wrong fix that looks right: decides per image, which matches the model only when a batch is all one kind."""

    def forward(self, x):
        return self.cnn(torch.where(x.amax(dim=(1, 2, 3), keepdim=True) > 1, x / 16, x))


@pytest.mark.parametrize(
    ("module", "wrong_inputs"),
    [
        (_ClampScale, "faint raw (max 12)"),
        (_ElementwiseScale, "raw 0..16"),
        (_NormalizeScale, "faint scaled"),
        (_PerImageScale, "a batch mixing raw and scaled"),
    ],
    ids=["clamp", "elementwise", "normalize", "per-image"],
)
def test_control_flow_wrong_fixes_are_caught(tmp_path, module, wrong_inputs):
    path = export(module().eval(), tmp_path / "w.onnx", torch.rand(2, 1, 8, 8), dynamic_shapes={"x": {0: Dim("batch")}})
    feedback = assert_wrong(lesson02.control_flow, lesson02.control_flow.check(path))
    assert wrong_inputs in feedback.message and "not by the model's rule" in feedback.why


# ------------------------------------------------------------------------------------------------ 02.3


def _fresh_cnn() -> DigitsCNN:
    model = DigitsCNN()
    model.load_state_dict(load_digits_cnn().state_dict())
    return model


def _logits(model, rows: int = 360) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(load_digits().x_test[:rows])).numpy()


def test_parity_training_mode_is_caught_without_naming_the_fix(artifacts):
    model = _fresh_cnn()
    feedback = assert_wrong(lesson02.parity, lesson02.parity.check(model, _logits(model)))
    assert feedback.message.startswith("the reference differs from ONNX Runtime's logits by up to")
    assert "BatchNorm" in feedback.why and model.training  # the check ran a copy, not the learner's model


def test_parity_eval_after_the_reference_is_caught(artifacts):
    model = _fresh_cnn()
    reference = _logits(model)  # computed in training mode
    model.eval()  # too late
    feedback = assert_wrong(lesson02.parity, lesson02.parity.check(model, reference))
    assert feedback.message == "the reference is not what the model you passed computes on the test digits"


def test_parity_eval_in_a_new_cell_after_a_training_mode_run(artifacts):
    # The natural fix: the starting cell already ran the model in training mode, then model.eval() and a new
    # reference in a cell of its own. BatchNorm's running statistics moved; the feedback says so.
    model = _fresh_cnn()
    _logits(model)  # the starting cell's run, in training mode
    model.eval()
    feedback = assert_wrong(lesson02.parity, lesson02.parity.check(model, _logits(model)))
    assert "BatchNorm statistics are no longer the trained ones" in feedback.message
    assert "before the switch" in feedback.why and "running_mean" in feedback.got
    # The last hint explains why, and the fix made before the first run passes.
    assert "too late" in lesson02.parity.hints[-1]
    fixed = _fresh_cnn().eval()
    assert lesson02.parity.check(fixed, _logits(fixed)).passed


def test_parity_onnx_output_as_reference_is_caught(artifacts):
    onnx_logits = run_onnx(artifacts / "02" / "digits_cnn.onnx", load_digits().x_test)["logits"]
    feedback = assert_wrong(lesson02.parity, lesson02.parity.check(_fresh_cnn(), onnx_logits))
    assert "not what the model you passed computes" in feedback.message


def test_parity_untrained_model_is_caught(artifacts):
    model = DigitsCNN().eval()
    feedback = assert_wrong(lesson02.parity, lesson02.parity.check(model, _logits(model)))
    assert "differs from ONNX Runtime's logits" in feedback.message


def test_parity_needs_the_whole_test_set_and_the_model(artifacts):
    model = _fresh_cnn().eval()
    partial = assert_wrong(lesson02.parity, lesson02.parity.check(model, _logits(model, rows=10)))
    assert partial.message.startswith("compare on the whole test set")
    assert "pass the PyTorch model first" in lesson02.parity.check(_logits(model), model).message


def test_parity_passes_with_a_tensor_reference_and_leaves_the_model_alone(artifacts):
    model = _fresh_cnn().eval()
    before = copy.deepcopy(model.state_dict())
    with torch.no_grad():
        reference = model(torch.from_numpy(load_digits().x_test))
    assert lesson02.parity.check(model, reference).passed
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())


def test_parity_needs_the_lessons_export(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "ARTIFACTS_DIR", tmp_path)
    model = _fresh_cnn().eval()
    feedback = assert_wrong(lesson02.parity, lesson02.parity.check(model, _logits(model)))
    assert "digits_cnn.onnx" in feedback.message


# ------------------------------------------------------------------------------------------------ 02.4


class _MeanOfMiddles(lesson02.ColumnMedianClassifier):
    """A plausible rewrite: the textbook median of an even count (the mean of the two middle values)."""

    def forward(self, x):
        middle = x[:, 0].sort(dim=1).values[:, 3:5]
        return self.head(middle.mean(dim=1))


class _RowMedians(lesson02.ColumnMedianClassifier):
    """A plausible rewrite along the wrong axis: each row's median instead of each column's."""

    def forward(self, x):
        return self.head(x[:, 0].sort(dim=2).values[:, :, 3])


class _Rewritten(lesson02.ColumnMedianClassifier):
    def forward(self, x):
        return self.head(x[:, 0].sort(dim=1).values[:, 3])


def _rewrite(cls: type) -> torch.nn.Module:
    model = cls()
    model.load_state_dict(lesson02.column_median_classifier().state_dict())
    return model.eval()


def test_missing_operator_the_models_own_export_fails(tmp_path):
    # The fact the exercise rests on: neither exporter translates aten.median.dim.
    with pytest.raises(Exception, match="step 3/3"):
        export(lesson02.column_median_classifier(), tmp_path / "m.onnx", torch.rand(2, 1, 8, 8))
    with pytest.raises(Exception, match="median"):
        export(lesson02.column_median_classifier(), tmp_path / "legacy.onnx", torch.rand(2, 1, 8, 8), dynamo=False)


def test_missing_operator_no_file(tmp_path):
    assert_wrong(lesson02.missing_operator, lesson02.missing_operator.check(tmp_path / "never_written.onnx"))


@pytest.mark.parametrize("cls", [_MeanOfMiddles, _RowMedians], ids=["mean of the middle values", "row medians"])
def test_missing_operator_rewrite_that_computes_something_else(tmp_path, cls):
    path = export(_rewrite(cls), tmp_path / "m.onnx", torch.rand(2, 1, 8, 8), dynamic_shapes={"x": {0: Dim("b")}})
    feedback = assert_wrong(lesson02.missing_operator, lesson02.missing_operator.check(path))
    assert "differ from lesson02.column_median_classifier()'s" in feedback.message


def test_missing_operator_right_rewrite_with_a_fixed_batch(tmp_path):
    path = export(_rewrite(_Rewritten), tmp_path / "m.onnx", torch.rand(2, 1, 8, 8))
    feedback = assert_wrong(lesson02.missing_operator, lesson02.missing_operator.check(path))
    assert feedback.message == "the batch dimension is fixed"


# ------------------------------------------------------------------------------------------------ 02.5


def _two_inputs_export(path: Path, batch: int = 2, **kwargs) -> Path:
    kwargs.setdefault("input_names", ["image", "temperature"])
    kwargs.setdefault("output_names", ["probabilities"])
    return export(lesson02.temperature_cnn(), path, (torch.rand(batch, 1, 8, 8), torch.ones(batch, 1)), **kwargs)


def test_two_inputs_without_output_name(tmp_path):
    dim = Dim("batch")
    path = _two_inputs_export(
        tmp_path / "t.onnx", output_names=None, dynamic_shapes={"image": {0: dim}, "temperature": {0: dim}}
    )
    feedback = assert_wrong(lesson02.two_inputs, lesson02.two_inputs.check(path))
    assert feedback.message == "the ONNX output should be called probabilities"


def test_two_inputs_fixed_batch(tmp_path):
    path = _two_inputs_export(tmp_path / "t.onnx")  # no dynamic_shapes at all
    feedback = assert_wrong(lesson02.two_inputs, lesson02.two_inputs.check(path))
    assert feedback.message == "the batch dimension of input image is fixed"


def test_two_inputs_example_batch_of_one(tmp_path):
    dim = Dim("batch")
    path = _two_inputs_export(tmp_path / "t.onnx", batch=1, dynamic_shapes={"image": {0: dim}, "temperature": {0: dim}})
    model = onnx.load(path)
    dims = [d.dim_param or d.dim_value for d in model.graph.input[1].type.tensor_type.shape.dim]
    feedback = lesson02.two_inputs.check(path)
    if dims[0] == 1:  # torch.export specialized the size-1 example
        assert_wrong(lesson02.two_inputs, feedback)
    else:
        assert feedback.passed


def test_two_inputs_batches_with_different_names(tmp_path):
    # The legacy exporter with one name per input: both dynamic, but the file no longer says they are equal.
    path = _two_inputs_export(
        tmp_path / "t.onnx",
        dynamo=False,
        dynamic_axes={"image": {0: "batch"}, "temperature": {0: "n"}, "probabilities": {0: "batch"}},
    )
    feedback = assert_wrong(lesson02.two_inputs, lesson02.two_inputs.check(path))
    assert feedback.message == "the two inputs' batch dimensions have different names"
    # The same export with one shared name passes (the exercise does not require the default exporter).
    path = _two_inputs_export(
        tmp_path / "s.onnx",
        dynamo=False,
        dynamic_axes={"image": {0: "batch"}, "temperature": {0: "batch"}, "probabilities": {0: "batch"}},
    )
    assert lesson02.two_inputs.check(path).passed


def test_two_inputs_wrong_input_names(tmp_path):
    dim = Dim("batch")
    path = _two_inputs_export(
        tmp_path / "t.onnx", input_names=["x", "t"], dynamic_shapes={"image": {0: dim}, "temperature": {0: dim}}
    )
    feedback = assert_wrong(lesson02.two_inputs, lesson02.two_inputs.check(path))
    assert "image and temperature" in feedback.message


# ------------------------------------------------------------------------------------------------ section 8.1


def _tiny(op_type: str = "Relu", declared: list | None = None) -> onnx.ModelProto:
    from onnx import TensorProto, helper, numpy_helper

    weight = numpy_helper.from_array(np.ones((4, 3), np.float32), "W")
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]), helper.make_node(op_type, ["h"], ["y"])]
    graph = helper.make_graph(
        nodes,
        "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, declared or ["N", 3])],
        [weight],
    )
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def test_check_model_derives_output_shapes_instead_of_reading_the_declared_ones():
    # Lesson 02 section 8.1: a typo'd operator leaves the declared output shape in place, but nothing derives it.
    from course_utils.onnxfile.verify import check_model

    good = check_model(_tiny()).steps[1]
    assert good.passed and good.detail == "consistent; every output shape follows from the inputs"
    typo = check_model(_tiny("Relux")).steps[1]
    assert typo.passed and typo.detail == "consistent; no shape derived for: y"
    contradiction = check_model(_tiny(declared=["N", 5])).steps[1]
    assert not contradiction.passed and "differ" in contradiction.detail
