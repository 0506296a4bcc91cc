"""Lesson 08's exercise checks: every hidden solution passes; plausible wrong answers get feedback that says what
is wrong without giving the fix away."""

from __future__ import annotations

import io
import warnings
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import onnx.version_converter
import pytest
from course_test_helpers import artifacts_in, assert_wrong
from onnx import TensorProto, helper, numpy_helper

from course_utils.lessons import lesson08
from course_utils.lessons.exercises import exercises_of
from course_utils.lessons.lesson08 import digits_cnn_at, squeeze_model

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """Solutions write to a temporary artifacts folder, never over a learner's files."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        yield folder


@pytest.fixture(scope="module")
def pipeline():
    return lesson08.sklearn_pipeline()


def test_every_solution_passes(pipeline):
    exercises = exercises_of("08")
    assert [e.id for e in exercises] == ["08.1", "08.2", "08.3", "08.4"]
    for exercise in exercises:
        run = exercise.run_solution(_namespace(pipeline))
        assert run.passed, run
        assert exercise.solution_code.strip().splitlines()[-1].startswith(f"lesson08.{_name(exercise)}.check(")
        assert len(exercise.hints) >= 3


def _namespace(pipeline) -> dict:
    """The learner's variables the solutions reuse (the starting cells define them)."""
    return {"lesson08": lesson08, "pipeline": pipeline, "head20": lesson08.head_model()}


def test_solutions_print_no_answer(pipeline, capfd):
    """The Solutions cell shows only pass/fail: a solution that printed would reveal its exercise's answer."""
    for exercise in exercises_of("08"):
        capfd.readouterr()
        run = exercise.run_solution(_namespace(pipeline))
        printed = capfd.readouterr().out
        assert run.passed, run
        assert printed.strip() == "", f"{exercise.id}'s solution prints: {printed!r}"
        leaked = [word for word in exercise.giveaways if word.lower() in (printed + str(run)).lower()]
        assert leaked == [], f"{exercise.id}'s solution output holds its giveaways {leaked}"


def _name(exercise) -> str:
    return next(n for n in lesson08.__all__ if getattr(lesson08, n) is exercise)


# ------------------------------------------------------------------------------------------------- 08.1


def _squeeze13(axes_value=(0, 2), dtype=np.int64, keep_attribute=False, as_input=False) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 1, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, 4])
    inits = [] if as_input else [numpy_helper.from_array(np.array(axes_value, dtype), "axes")]
    inputs = [x, helper.make_tensor_value_info("axes", TensorProto.INT64, [2])] if as_input else [x]
    attrs = {"axes": [0, 2]} if keep_attribute else {}
    node = helper.make_node("Squeeze", ["x", "axes"], ["y"], **attrs)
    graph = helper.make_graph([node], "s", inputs, [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)


def test_predict_node_accepts_a_constant_node_as_well():
    model = _squeeze13()
    constant = helper.make_node("Constant", [], ["axes"], value=model.graph.initializer[0])
    del model.graph.initializer[:]
    model.graph.node.insert(0, constant)
    assert lesson08.predict_node.check(model).passed


@pytest.mark.parametrize(
    "wrong,message",
    [
        (squeeze_model(), "does not import ai.onnx opset 13"),  # the untouched opset-11 model
        ("bump", "carries an attribute that Squeeze-13 does not define"),  # only the opset number changed
        (_squeeze13(keep_attribute=True), "carries an attribute"),  # the input added, the attribute kept
        (_squeeze13(dtype=np.int32), "wrong element type"),
        (_squeeze13(axes_value=(1, 2)), "does not hold the axes"),
        (_squeeze13(as_input=True), "is not a constant of the graph"),
    ],
)
def test_predict_node_wrong_answers(wrong, message):
    if wrong == "bump":
        wrong = squeeze_model()
        wrong.opset_import[0].version = 13
    feedback = lesson08.predict_node.check(wrong)
    assert_wrong(lesson08.predict_node, feedback)
    assert message in feedback.message


@pytest.mark.parametrize("axes", [(-4, -2), (2, 0), (-2, 0), (0, -2)])
def test_predict_node_accepts_axes_counted_from_the_end(axes):
    # Squeeze-13 takes axes in [-r, r-1]: [-4, -2] on the rank-4 input names the same two dimensions as [0, 2].
    feedback = lesson08.predict_node.check(_squeeze13(axes_value=axes))
    assert feedback.passed, str(feedback)


@pytest.mark.parametrize("axes", [(-3, -1), (0, -2, 2), (-4,)])
def test_predict_node_rejects_other_negative_axes(axes):
    # -3 and -1 are dimensions 1 and 3; [0, -2, 2] names dimension 2 twice; [-4] squeezes one dimension only.
    feedback = lesson08.predict_node.check(_squeeze13(axes_value=axes))
    assert_wrong(lesson08.predict_node, feedback)
    assert "does not hold the axes" in feedback.message or "differs" in feedback.message, str(feedback)


def test_predict_node_without_axes_input():
    model = _squeeze13()
    del model.graph.node[0].input[1]
    feedback = lesson08.predict_node.check(model)
    assert_wrong(lesson08.predict_node, feedback)
    assert "squeeze every size-1 dimension" in feedback.message


# ------------------------------------------------------------------------------------------------- 08.2


@pytest.mark.parametrize(
    "answer,message",
    [
        (("Relu", 14, "no adapter"), "not an operator of head_model()'s graph"),  # section 4's answer, copied
        (("Softmax", 13, "no adapter"), "every Softmax node converts"),
        (("MatMul", 13, "no adapter"), "every MatMul node converts"),  # the node before the failing one
        (("Conv", 11, "no adapter"), "not an operator"),
    ],
)
def test_breaking_node_wrong_operator(answer, message):
    feedback = lesson08.breaking_node.check(*answer)
    assert_wrong(lesson08.breaking_node, feedback)
    assert message in feedback.message


def test_breaking_node_right_operator_wrong_version_or_cause():
    exercise = lesson08.breaking_node
    wrong_version = exercise.check("Gelu", 17, "operator does not exist")  # the target, not the definition
    assert not wrong_version.passed and "20" not in str(wrong_version).replace("opset 20", "")
    wrong_cause = exercise.check("Gelu", 20, "no adapter")  # section 4's cause, by analogy
    assert not wrong_cause.passed and "not why this node cannot move" in wrong_cause.message
    assert "does not exist" not in str(wrong_cause)
    unknown_cause = exercise.check("Gelu", 20, "bug")
    assert not unknown_cause.passed and "cause must be one of" in unknown_cause.message
    assert not exercise.check(None, None, None).passed
    assert exercise.check("Gelu", 20, "operator does not exist").passed


def test_head_model_is_what_the_exercise_says():
    import onnxruntime as ort

    model = lesson08.head_model()
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 20
    assert "Relu" not in {n.op_type for n in model.graph.node}  # not section 4's failure again
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    (y,) = session.run(None, {"x": np.ones((1, 8), np.float32)})
    assert y.shape == (1, 4) and abs(float(y.sum()) - 1.0) < 1e-5
    with pytest.raises(RuntimeError, match="No Previous Version"):
        onnx.version_converter.convert_version(model, lesson08.DOWNGRADE_TARGET)


# ------------------------------------------------------------------------------------------------- 08.3


def _export(tmp_path: Path, name: str, **kwargs) -> Path:
    path = tmp_path / name
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            lesson08_cnn(), (torch.zeros(1, 1, 8, 8),), path, external_data=False, verbose=False, **kwargs
        )
    return path


def lesson08_cnn():
    from course_utils import load_digits_cnn

    return load_digits_cnn()


def test_old_runtime_wrong_answers(tmp_path):
    exercise = lesson08.old_runtime
    default = _export(tmp_path, "default.onnx")  # the dynamo exporter's own choice: opset 20, IR 10
    feedback = exercise.check(default)
    assert_wrong(exercise, feedback)
    assert "cannot run it" in feedback.message and "IR version 10 > 8" in feedback.got
    only_opset = _export(tmp_path, "dynamo18.onnx", opset_version=18)  # the opset right, the IR still 10
    feedback = exercise.check(only_opset)
    assert_wrong(exercise, feedback)
    assert "IR version 10 > 8" in feedback.got and "opset" not in feedback.got.split("IR version 10 > 8")[0]
    hacked = onnx.load(default)
    hacked.ir_version = 8  # the number lowered by hand, the opset left at 20
    feedback = exercise.check(hacked)
    assert_wrong(exercise, feedback)
    assert "ai.onnx opset 20 > 18" in feedback.got


def test_old_runtime_wrong_network():
    other = digits_cnn_at(18)
    weights = other.graph.initializer[0]
    weights.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(weights) * 0, weights.name))
    feedback = lesson08.old_runtime.check(other)
    assert_wrong(lesson08.old_runtime, feedback)
    assert "differ from the trained DigitsCNN" in feedback.message


def test_old_runtime_missing_file(tmp_path):
    feedback = lesson08.old_runtime.check(tmp_path / "nothing.onnx")
    assert not feedback.passed and "there is no file at" in feedback.message
    assert not lesson08.old_runtime.check(42).passed


# ------------------------------------------------------------------------------------------------- 08.4


def test_sklearn_wrong_answers(pipeline, tmp_path):
    from skl2onnx import to_onnx

    from course_utils import load_digits

    digits = load_digits()
    x = digits.flat(digits.x_test)
    exercise = lesson08.sklearn_old_runtime
    default = to_onnx(pipeline, x[:1])  # skl2onnx's own choice: newer than 1.14 reads
    feedback = exercise.check(default, pipeline)
    assert_wrong(exercise, feedback)
    assert "cannot run it" in feedback.message
    next_row = to_onnx(pipeline, x[:1], target_opset=19)  # the opset of the next release in the table (1.15)
    feedback = exercise.check(next_row, pipeline)
    assert_wrong(exercise, feedback)
    assert "ai.onnx opset 19 > 18" in feedback.got
    # The ai.onnx.ml limit is read too: the same file declaring ai.onnx.ml 4 (what a converter targeting a newer
    # ml opset writes; ORT 1.14 implements ai.onnx.ml up to 3) is refused although its ai.onnx part fits.
    ml_too_new = to_onnx(pipeline, x[:1], target_opset={"": 18, "ai.onnx.ml": 3})
    next(o for o in ml_too_new.opset_import if o.domain == "ai.onnx.ml").version = 4
    feedback = exercise.check(ml_too_new, pipeline)
    assert_wrong(exercise, feedback, "cannot run it")
    assert "ai.onnx.ml opset 4 > 3" in feedback.got, feedback.got
    # A single target_opset is also right: skl2onnx then picks an ai.onnx.ml opset that goes with it.
    assert exercise.check(to_onnx(pipeline, x[:1], target_opset=18), pipeline).passed
    other = lesson08.sklearn_pipeline()
    other.set_params(decisiontreeclassifier__max_depth=2).fit(digits.flat(digits.x_train), digits.y_train)
    wrong_model = to_onnx(other, x[:1], target_opset={"": 18, "ai.onnx.ml": 3})
    feedback = exercise.check(wrong_model, pipeline)
    assert_wrong(exercise, feedback)
    assert "labels differ" in feedback.message


def test_squeeze_model_is_what_the_exercise_says():
    model = squeeze_model()
    onnx.checker.check_model(model, full_check=True)
    assert [a.name for a in model.graph.node[0].attribute] == ["axes"] and model.opset_import[0].version == 11
    buffer = io.BytesIO(model.SerializeToString())
    assert onnx.load(buffer).graph.node[0].op_type == "Squeeze"
