"""Lesson 01's exercises: right answers pass, each kind of wrong answer gets feedback, solutions stay correct."""

from __future__ import annotations

import numpy as np
import onnx
import pytest

from course_utils.data import load_digits
from course_utils.exercises import Feedback
from course_utils.history import event
from course_utils.lessons import lesson01
from course_utils.lessons.lesson01 import DIGITS_CONTRACT, TIMELINE_KEYS, _signature_problems, _toy_model
from course_utils.runtime import runtime_limits


def run_solution(exercise, **names) -> Feedback:
    """Execute an exercise's published solution (which ends in .check(...)) and return its feedback."""
    namespace = {"lesson01": lesson01, **names}
    *body, last = exercise.solution_code.strip().splitlines()
    exec("\n".join(body), namespace)
    return eval(last, namespace)


# --------------------------------------------------------------------------------------------- 01.1


def test_pick_providers_solution_passes():
    assert run_solution(lesson01.pick_providers).passed


@pytest.mark.parametrize(
    "wrong,complaint",
    [
        (lambda preferred, available: list(preferred), "drop what is not installed"),
        (lambda preferred, available: [p for p in available if p in preferred], "your order"),
        (lambda preferred, available: [p for p in preferred if p in available], "always end with"),
        (lambda preferred, available: None, "drop what is not installed"),
    ],
)
def test_pick_providers_wrong_answers_say_which_rule_broke(wrong, complaint):
    feedback = lesson01.pick_providers.check(wrong)
    assert not feedback.passed
    assert complaint in feedback.message


def test_pick_providers_duplicated_cpu_is_caught():
    def keeps_cpu_twice(preferred, available):
        return [p for p in preferred if p in available] + ["CPUExecutionProvider"]

    feedback = lesson01.pick_providers.check(keeps_cpu_twice)
    assert not feedback.passed


def test_pick_providers_not_a_function():
    feedback = lesson01.pick_providers.check(["CPUExecutionProvider"])
    assert not feedback.passed and "function itself" in feedback.message


# --------------------------------------------------------------------------------------------- 01.2


def test_versions_solution_passes():
    assert run_solution(lesson01.versions, runtime_limits=runtime_limits).passed


def test_versions_accepting_everything_fails():
    feedback = lesson01.versions.check(lambda model: [])
    assert not feedback.passed and "accepted a model it should reject" in feedback.message


def test_versions_rejecting_everything_fails():
    feedback = lesson01.versions.check(lambda model: ["no"])
    assert not feedback.passed and "rejected a model this runtime loads" in feedback.message


def test_versions_forgetting_the_ml_domain_fails():
    limits = runtime_limits()

    def only_core(model):
        problems = []
        if model.ir_version > limits.max_ir_version:
            problems.append("ir")
        for entry in model.opset_import:
            if entry.domain in ("", "ai.onnx") and not 7 <= entry.version <= limits.max_opset["ai.onnx"]:
                problems.append("opset")
        return problems

    feedback = lesson01.versions.check(only_core)
    assert not feedback.passed and "ai.onnx.ml" in feedback.message


def test_toy_models_really_load_where_the_checker_says_so():
    # The check's "fine" models must be loadable by this onnxruntime, or the exercise teaches a falsehood.
    import onnxruntime as ort

    limits = runtime_limits()
    for model in (
        _toy_model(),
        _toy_model(ir_version=limits.max_ir_version, opset=limits.max_opset["ai.onnx"], ml_opset=1),
    ):
        ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    with pytest.raises(Exception, match="IR version"):
        ort.InferenceSession(
            _toy_model(ir_version=limits.max_ir_version + 1).SerializeToString(), providers=["CPUExecutionProvider"]
        )


# --------------------------------------------------------------------------------------------- 01.3


def centroid_model(batch: int | str = "batch", input_name: str = "image") -> onnx.ModelProto:
    """A nearest-centroid digits classifier written directly in ONNX (logits = 2 x.c - |c|^2), no framework."""
    digits = load_digits()
    flat = digits.x_train.reshape(len(digits.x_train), -1)
    centroids = np.stack([flat[digits.y_train == k].mean(axis=0) for k in range(10)]).astype(np.float32)
    helper = onnx.helper
    x = helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, [batch, 1, 8, 8])
    y = helper.make_tensor_value_info("logits", onnx.TensorProto.FLOAT, [batch, 10])
    weight = onnx.numpy_helper.from_array(2 * centroids.T, "weight")
    bias = onnx.numpy_helper.from_array(-(centroids**2).sum(axis=1), "bias")
    nodes = [
        helper.make_node("Flatten", [input_name], ["flat"]),
        helper.make_node("MatMul", ["flat", "weight"], ["scores"]),
        helper.make_node("Add", ["scores", "bias"], ["logits"]),
    ]
    graph = helper.make_graph(nodes, "centroids", [x], [y], [weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def save(model: onnx.ModelProto, tmp_path, name: str = "model.onnx"):
    path = tmp_path / name
    onnx.save(model, path)
    return path


def test_ci_gate_passes_an_accurate_model_that_meets_the_contract(tmp_path):
    path = save(centroid_model(), tmp_path)
    feedback = lesson01.ci_gate.check(path, min_accuracy=0.85)
    assert feedback.passed, feedback
    assert "accuracy 0.8" in feedback.message or "accuracy 0.9" in feedback.message


def test_ci_gate_rejects_low_accuracy(tmp_path):
    path = save(centroid_model(), tmp_path)
    feedback = lesson01.ci_gate.check(path)  # nearest centroid is good, not 0.98 good
    assert not feedback.passed and "not accurate enough" in feedback.message
    assert feedback.expected == ">= 0.98"


def test_ci_gate_rejects_fixed_batch_with_the_fix(tmp_path):
    path = save(centroid_model(batch=2), tmp_path)
    feedback = lesson01.ci_gate.check(path)
    assert not feedback.passed and "DIGITS_CONTRACT" in feedback.message
    assert "fixed to 2" in feedback.got and "dynamic_shapes" in feedback.hint


def test_ci_gate_rejects_wrong_input_name(tmp_path):
    path = save(centroid_model(input_name="input.1"), tmp_path)
    feedback = lesson01.ci_gate.check(path)
    assert not feedback.passed and "'image' is missing" in feedback.got


@pytest.mark.parametrize(
    "setup,fragment",
    [
        (lambda tmp: tmp / "missing.onnx", "No model file"),
        (lambda tmp: (tmp / "notes.onnx").write_text("hello") and tmp / "notes.onnx", "not an ONNX model"),
        (lambda tmp: "just a string that is no path.onnx", "No model file"),
        (lambda tmp: 42, "pass the path"),
    ],
)
def test_ci_gate_learner_mistakes_give_one_line_feedback(tmp_path, setup, fragment):
    feedback = lesson01.ci_gate.check(setup(tmp_path))
    assert not feedback.passed
    assert fragment.lower() in str(feedback).lower()
    assert "Traceback" not in str(feedback)


def test_ci_gate_reports_a_checker_failure(tmp_path):
    model = centroid_model()
    model.graph.node[1].input[1] = "no_such_tensor"  # a dangling edge: invalid graph
    path = save(model, tmp_path)
    feedback = lesson01.ci_gate.check(path)
    assert not feedback.passed and "checker rejects" in feedback.message


def test_signature_problems_list_every_difference():
    assert _signature_problems(_toy_model(), DIGITS_CONTRACT) == []
    problems = _signature_problems(_toy_model(input_type=onnx.TensorProto.DOUBLE, classes=5), DIGITS_CONTRACT)
    assert any("float64" in p for p in problems)
    assert any("dimension 1 is 5" in p for p in problems)


# --------------------------------------------------------------------------------------------- 01.4


def test_timeline_solution_passes():
    assert run_solution(lesson01.timeline, event=event, TIMELINE_KEYS=TIMELINE_KEYS).passed


def test_timeline_wrong_order_names_the_pair():
    feedback = lesson01.timeline.check(list(TIMELINE_KEYS), [])
    assert not feedback.passed and "happened later" in feedback.message


def test_timeline_right_order_but_wrong_unverified_set():
    order = sorted(TIMELINE_KEYS, key=lambda k: event(k).sort_key)
    feedback = lesson01.timeline.check(order, [])
    assert not feedback.passed and "commonly cited" in feedback.message
    assert "ort_open_source" in feedback.expected


def test_timeline_missing_keys():
    feedback = lesson01.timeline.check(["lf_ai"], [])
    assert not feedback.passed and "exactly once" in feedback.message


def test_every_exercise_has_hints_and_a_solution():
    for exercise in (lesson01.pick_providers, lesson01.versions, lesson01.ci_gate, lesson01.timeline):
        assert exercise.id.startswith("01.")
        assert len(exercise.hints) >= 2
        assert ".check(" in exercise.solution_code
