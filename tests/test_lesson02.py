"""Lesson 02's exercise checks: every solution passes; the typical wrong answers get specific feedback."""

from __future__ import annotations

import ast
import logging
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest

from course_utils import paths
from course_utils.exercises import Exercise, Feedback

torch = pytest.importorskip("torch")

from torch.export import Dim  # noqa: E402

from course_utils import load_digits, load_digits_cnn  # noqa: E402
from course_utils.lessons import lesson02  # noqa: E402
from course_utils.models import DigitsCNN  # noqa: E402
from course_utils.runtime import run_onnx  # noqa: E402
from course_utils.verify import compare_outputs  # noqa: E402

logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
pytestmark = pytest.mark.slow  # each check needs an export (about a second)


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A temporary artifacts folder holding artifacts/02/digits_cnn.onnx as the lesson exports it."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(paths, "ARTIFACTS_DIR", tmp_path_factory.mktemp("artifacts"))
        export(
            load_digits_cnn(),
            paths.artifact_path("digits_cnn.onnx", lesson="02"),
            torch.rand(2, 1, 8, 8),
            input_names=["image"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: Dim("batch")}},
        )
        yield paths.ARTIFACTS_DIR


def export(model, path: Path, example, **kwargs) -> Path:
    kwargs.setdefault("external_data", False)
    if kwargs.get("dynamo", True):
        kwargs.setdefault("verbose", False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (example,), str(path), **kwargs)
    return path


def run_solution(exercise: Exercise) -> Feedback:
    """Execute the solution text as a notebook cell would; return the value of its last line (the check)."""
    tree = ast.parse(exercise.solution_code)
    last = ast.Expression(tree.body.pop().value)
    namespace = {"lesson02": lesson02}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        exec(compile(tree, "<solution>", "exec"), namespace)
    return eval(compile(last, "<solution>", "eval"), namespace)


@pytest.mark.parametrize(
    "exercise",
    [lesson02.dynamic_batch, lesson02.control_flow, lesson02.parity, lesson02.older_runtime],
    ids=lambda e: e.id,
)
def test_solutions_pass(artifacts, exercise):
    feedback = run_solution(exercise)
    assert feedback.passed, str(feedback)
    assert exercise.hints and exercise.solution().text


def test_exercise_ids():
    assert [e.id for e in (lesson02.dynamic_batch, lesson02.control_flow, lesson02.parity, lesson02.older_runtime)] == [
        "02.1",
        "02.2",
        "02.3",
        "02.4",
    ]


# ------------------------------------------------------------------------------------------------ 02.1


def test_dynamic_batch_frozen_by_an_example_of_one(tmp_path):
    path = export(
        lesson02.patch_classifier(),
        tmp_path / "p.onnx",
        torch.rand(1, 1, 8, 8),
        dynamic_shapes={"x": {0: Dim("batch")}},
    )
    feedback = lesson02.dynamic_batch.check(path)
    assert not feedback.passed
    assert feedback.message == "the batch dimension is still fixed"
    assert "[1, 1, 8, 8]" in feedback.got and "torch.rand(2, 1, 8, 8)" in feedback.hint


def test_dynamic_batch_without_dynamic_shapes(tmp_path):
    path = export(lesson02.patch_classifier(), tmp_path / "p.onnx", torch.rand(3, 1, 8, 8))
    feedback = lesson02.dynamic_batch.check(path)
    assert not feedback.passed and "dynamic_shapes" in feedback.hint and "[3, 1, 8, 8]" in feedback.got


def test_dynamic_batch_other_weights(tmp_path):
    path = export(
        lesson02.patch_classifier(seed=1),
        tmp_path / "p.onnx",
        torch.rand(2, 1, 8, 8),
        dynamic_shapes={"x": {0: Dim("batch")}},
    )
    feedback = lesson02.dynamic_batch.check(path)
    assert not feedback.passed and "differ from lesson02.patch_classifier()" in feedback.message


def test_dynamic_batch_missing_or_wrong_answer(tmp_path):
    missing = lesson02.dynamic_batch.check(tmp_path / "nothing.onnx")
    assert not missing.passed and "No model file" in missing.message
    assert "pass the path" in lesson02.dynamic_batch.check(42).message
    assert "no answer yet" in lesson02.dynamic_batch.check(None).message


# ------------------------------------------------------------------------------------------------ 02.2


@pytest.mark.parametrize(
    ("scale", "wrong"),
    [(1.0, "raw 0..16 and faint raw (max 12)"), (16.0, "scaled [0, 1] and faint scaled (max 0.75)")],
)
def test_control_flow_traced_branch_is_caught(tmp_path, scale, wrong):
    path = export(
        lesson02.auto_scale_cnn(),
        tmp_path / "a.onnx",
        torch.rand(2, 1, 8, 8) * scale,
        dynamo=False,
        input_names=["image"],
        dynamic_axes={"image": {0: "batch"}},
    )
    feedback = lesson02.control_flow.check(path)
    assert not feedback.passed
    assert feedback.message == f"for {wrong} pixels your ONNX model's scores differ from PyTorch's"
    assert "torch.where" in feedback.hint


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


@pytest.mark.parametrize(
    ("module", "wrong"),
    [(_ClampScale, "faint raw (max 12)"), (_ElementwiseScale, "raw 0..16"), (_NormalizeScale, "faint scaled")],
    ids=["clamp", "elementwise", "normalize"],
)
def test_control_flow_wrong_fixes_are_caught(tmp_path, module, wrong):
    path = export(module().eval(), tmp_path / "w.onnx", torch.rand(2, 1, 8, 8), dynamic_shapes={"x": {0: Dim("batch")}})
    feedback = lesson02.control_flow.check(path)
    assert not feedback.passed and wrong in feedback.message, str(feedback)


# ------------------------------------------------------------------------------------------------ 02.3


def _reference_and_report(model, artifacts, rows: int = 360, **tol):
    x = load_digits().x_test[:rows]
    with torch.no_grad():
        reference = model(torch.from_numpy(x))
    return compare_outputs(reference, run_onnx(artifacts / "02" / "digits_cnn.onnx", x), **tol)


def _fresh_cnn():
    model = DigitsCNN()
    model.load_state_dict(load_digits_cnn().state_dict())
    return model


def test_parity_training_mode_is_named(artifacts):
    model = _fresh_cnn()
    report = _reference_and_report(model, artifacts)
    assert not report.passed  # train-mode BatchNorm really does give other numbers
    feedback = lesson02.parity.check(report, model)
    assert feedback.message == "the PyTorch model is in training mode" and "model.eval()" in feedback.hint


def test_parity_loose_tolerance_is_refused(artifacts):
    model = _fresh_cnn().eval()
    report = _reference_and_report(model, artifacts, atol=1.0)
    feedback = lesson02.parity.check(report, model)
    assert not feedback.passed and "looser tolerance" in feedback.message


def test_parity_needs_the_whole_test_set_and_a_report(artifacts):
    model = _fresh_cnn().eval()
    partial = lesson02.parity.check(_reference_and_report(model, artifacts, rows=10), model)
    assert not partial.passed and partial.message == "compare on the whole test set"
    assert "compare_outputs" in lesson02.parity.check(np.zeros(3), model).hint
    assert "also pass the PyTorch model" in lesson02.parity.check(_reference_and_report(model, artifacts)).message


def test_parity_failing_report_is_not_accepted(artifacts):
    model = _fresh_cnn().eval()
    x = load_digits().x_test
    report = compare_outputs(np.zeros((360, 10), np.float32), run_onnx(artifacts / "02" / "digits_cnn.onnx", x))
    feedback = lesson02.parity.check(report, model)
    assert not feedback.passed and feedback.message == "the parity report does not pass yet"


def test_parity_self_comparison_with_an_untrained_model_is_refused(artifacts):
    # ONNX Runtime compared with itself proves nothing; the checker recomputes PyTorch's side from the model.
    onnx_path = artifacts / "02" / "digits_cnn.onnx"
    x = load_digits().x_test
    report = compare_outputs(run_onnx(onnx_path, x), run_onnx(onnx_path, x))
    assert report.passed
    feedback = lesson02.parity.check(report, DigitsCNN().eval())
    assert not feedback.passed
    assert feedback.message == "the PyTorch model you passed does not give the export's numbers"
    assert "load_state_dict" in feedback.hint


def test_parity_self_comparison_with_the_trained_model_is_refused(artifacts):
    onnx_path = artifacts / "02" / "digits_cnn.onnx"
    x = load_digits().x_test
    report = compare_outputs(run_onnx(onnx_path, x), run_onnx(onnx_path, x))
    feedback = lesson02.parity.check(report, _fresh_cnn().eval())
    assert not feedback.passed and "compares something with itself" in feedback.message
    with torch.no_grad():
        reference = _fresh_cnn().eval()(torch.from_numpy(x))
    itself = lesson02.parity.check(compare_outputs(reference, reference), _fresh_cnn().eval())
    assert not itself.passed and "compares something with itself" in itself.message


def test_parity_needs_the_lessons_export(tmp_path, monkeypatch):
    monkeypatch.setattr(paths, "ARTIFACTS_DIR", tmp_path)
    model = _fresh_cnn().eval()
    x = load_digits().x_test
    with torch.no_grad():
        report = compare_outputs(model(torch.from_numpy(x)), model(torch.from_numpy(x)) + 1e-6)
    feedback = lesson02.parity.check(report, model)
    assert not feedback.passed and "digits_cnn.onnx" in feedback.message and "section 1" in feedback.hint


# ------------------------------------------------------------------------------------------------ 02.4


def test_older_runtime_default_opset_is_too_new(tmp_path):
    path = export(
        load_digits_cnn(), tmp_path / "d.onnx", torch.rand(2, 1, 8, 8), dynamic_shapes={"x": {0: Dim("batch")}}
    )
    feedback = lesson02.older_runtime.check(path)
    assert not feedback.passed and "supports up to 18" in feedback.message and "opset_version=18" in feedback.hint


@pytest.fixture(scope="module")
def opset18_export(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """DigitsCNN exported at opset 18 with the default exporter (IR 10), once for the tests that read it."""
    return export(
        load_digits_cnn(),
        tmp_path_factory.mktemp("opset18") / "d.onnx",
        torch.rand(2, 1, 8, 8),
        opset_version=18,
        dynamic_shapes={"x": {0: Dim("batch")}},
    )


def test_older_runtime_ir_version_is_named(opset18_export):
    path = opset18_export
    assert onnx.load(path).ir_version > 9  # the fact the exercise rests on
    feedback = lesson02.older_runtime.check(path)
    assert not feedback.passed and feedback.message.startswith("the model has IR version")
    assert "lower_ir_version(model, 9)" in feedback.hint and "dynamo=False" in feedback.hint


def test_older_runtime_lowering_the_number_by_hand_is_not_enough(opset18_export, tmp_path):
    # The torch exporter writes IR-10-only fields (metadata_props on nodes and values); onnx.checker does not
    # flag them after `model.ir_version = 9`, so the check must.
    model = onnx.load(opset18_export)
    model.ir_version = 9
    path = tmp_path / "d.onnx"
    onnx.save(model, path)
    feedback = lesson02.older_runtime.check(path)
    assert not feedback.passed and "IR 9 does not have" in feedback.message
    assert "metadata_props (IR 10)" in feedback.got and "lower_ir_version" in feedback.hint


def test_older_runtime_legacy_exporter_also_passes(tmp_path):
    path = export(
        load_digits_cnn(),
        tmp_path / "d.onnx",
        torch.rand(2, 1, 8, 8),
        dynamo=False,
        opset_version=18,
        input_names=["image"],
        dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        output_names=["logits"],
    )
    assert lesson02.older_runtime.check(path).passed


def test_older_runtime_fixed_batch(tmp_path):
    path = export(load_digits_cnn(), tmp_path / "d.onnx", torch.rand(2, 1, 8, 8), dynamo=False, opset_version=18)
    feedback = lesson02.older_runtime.check(path)
    assert not feedback.passed and feedback.message == "the batch dimension is still fixed"
