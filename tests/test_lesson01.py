"""Lesson 01's exercises: the hidden solutions pass, plausible wrong answers fail without giving the fix away."""

from __future__ import annotations

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from course_test_helpers import assert_wrong

from course_utils import artifact_path, load_digits, load_digits_cnn
from course_utils.lessons import lesson01
from course_utils.lessons.exercises import exercises_of
from course_utils.lessons.lesson01 import STATEMENTS, calibrated, predict, stages
from course_utils.onnxfile.diagrams import STAGES


def assert_not_yet(exercise, feedback, *fragments):
    """A wrong answer: not passed, says what is wrong (the fragments), and names none of the giveaways."""
    assert_wrong(exercise, feedback, *fragments)
    assert "Traceback" not in str(feedback)


@pytest.fixture(scope="module")
def lesson_namespace():
    """What the notebook has defined when its Solutions cell runs."""
    return {
        "lesson01": lesson01,
        "ort": ort,
        "np": np,
        "torch": torch,
        "cnn": load_digits_cnn(),
        "digits": load_digits(),
        "artifact_path": artifact_path,
    }


def test_lesson_has_three_exercises_with_escalating_hints():
    assert [e.id for e in exercises_of("01")] == ["01.1", "01.2", "01.3"]
    for exercise in exercises_of("01"):
        assert len(exercise.hints) >= 2 and exercise.giveaways
        assert exercise.solution_code.strip().splitlines()[-1].startswith(f"lesson01.{_name(exercise)}.check(")
        assert "course_utils" not in exercise.solution_code  # real APIs only


def _name(exercise) -> str:
    return next(name for name, value in vars(lesson01).items() if value is exercise)


@pytest.mark.parametrize("exercise", [predict, stages, calibrated], ids=lambda e: e.id)
def test_hidden_solution_passes(exercise, lesson_namespace):
    run = exercise.run_solution(lesson_namespace)
    assert run.passed, run
    assert "def " not in str(run) and "torch.onnx.export" not in str(run)


# --------------------------------------------------------------------------------------------- 01.1


def hard_coded_name(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {"image": images})[0].argmax(axis=1)


def untouched_starting_code(path, images):
    return None


def returns_scores(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0]


def argmax_over_images(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0].argmax(axis=0)


def returns_float_classes(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    scores = session.run(None, {session.get_inputs()[0].name: images})[0]
    return scores.argmax(axis=1).astype(np.float32)


def lowest_score(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: images})[0].argmin(axis=1)


@pytest.mark.parametrize(
    "wrong,fragments",
    [
        (hard_coded_name, ["raised ValueError", "named 'pixels'", "missing from input feed"]),
        (untouched_starting_code, ["shape ()", "one class number per image"]),
        (returns_scores, ["shape (360, 10)", "one class per image"]),
        (argmax_over_images, ["shape (10,)"]),
        (returns_float_classes, ["float32 values"]),
        (lowest_score, ["differ from the model's"]),
    ],
    ids=lambda v: getattr(v, "__name__", ""),
)
def test_predict_wrong_answers(wrong, fragments):
    assert_not_yet(predict, predict.check(wrong), *fragments)


def test_predict_not_a_function():
    assert_not_yet(predict, predict.check(np.zeros(360)), "function itself")


# --------------------------------------------------------------------------------------------- 01.2


RIGHT = {
    "no_translation": "export",
    "opset_declared": "onnx",
    "weights_beside": "onnx",
    "scores_differ": "check",
    "ir_too_new": "session",
    "gpu_same_file": "provider",
}


def test_stages_statements_and_keys():
    assert set(STATEMENTS) == set(RIGHT)
    assert set(RIGHT.values()) <= {s.key for s in STAGES}
    assert stages.check(dict(RIGHT)).passed


@pytest.mark.parametrize(
    "wrong,fragments",
    [
        ({k: "check" for k in RIGHT}, ["5 of 6 statements"]),  # "the checker finds everything"
        ({**RIGHT, "ir_too_new": "provider", "gpu_same_file": "session"}, ["2 of 6", "ir_too_new", "4 of 6 right"]),
        ({**RIGHT, "scores_differ": "outputs"}, ["1 of 6", "scores_differ"]),  # parity read as "the outputs"
        ({**RIGHT, "weights_beside": "export"}, ["weights_beside"]),
        ({k: None for k in RIGHT}, ["name no stage", "one of train, export"]),  # the untouched starting cell
        ({**RIGHT, "ir_too_new": "runtime"}, ["name no stage", "'runtime'"]),
        ({"no_translation": "export"}, ["each statement", "missing"]),
    ],
)
def test_stages_wrong_answers(wrong, fragments):
    assert_not_yet(stages, stages.check(wrong), *fragments)


def test_stages_feedback_never_names_the_right_stage_of_a_wrong_answer():
    feedback = stages.check({**RIGHT, "ir_too_new": "provider"})
    assert "session" not in str(feedback).replace("Session", "")  # no "ir_too_new ... session"


# --------------------------------------------------------------------------------------------- 01.3


class Calibrated(torch.nn.Module):
    def __init__(self, classifier, *, probabilities=True):
        super().__init__()
        self.classifier, self.probabilities = classifier, probabilities

    def forward(self, image, temperature):
        scores = self.classifier(image) / temperature
        return torch.softmax(scores, dim=1) if self.probabilities else scores


class Baked(torch.nn.Module):
    def __init__(self, classifier):
        super().__init__()
        self.classifier = classifier

    def forward(self, image):
        return torch.softmax(self.classifier(image) / 2.0, dim=1)


def export_legacy(model, args, path, input_names, dynamic=True):
    # The legacy exporter is fast; what the checker sees is the same kind of file.
    axes = {"image": {0: "batch"}, "probabilities": {0: "batch"}} if dynamic else None
    torch.onnx.export(
        model,
        args,
        path,
        input_names=input_names,
        output_names=["probabilities"],
        dynamic_axes=axes,
        dynamo=False,
        opset_version=17,
    )
    return path


@pytest.fixture(scope="module")
def digits_and_cnn():
    return load_digits(), load_digits_cnn()


def example(digits):
    return (torch.from_numpy(digits.x_test[:2]), torch.tensor([2.0]))


def test_calibrated_passes_a_legacy_export(tmp_path, digits_and_cnn):
    digits, cnn = digits_and_cnn
    path = export_legacy(Calibrated(cnn).eval(), example(digits), tmp_path / "ok.onnx", ["image", "temperature"])
    feedback = calibrated.check(path)
    assert feedback.passed, feedback


def test_calibrated_rejects_a_baked_temperature(tmp_path, digits_and_cnn):
    digits, cnn = digits_and_cnn
    path = export_legacy(Baked(cnn).eval(), (example(digits)[0],), tmp_path / "baked.onnx", ["image"])
    assert_not_yet(calibrated, calibrated.check(path), "1 input(s)", "not a constant")


def test_calibrated_rejects_a_fixed_batch(tmp_path, digits_and_cnn):
    digits, cnn = digits_and_cnn
    path = tmp_path / "fixed.onnx"
    export_legacy(Calibrated(cnn).eval(), example(digits), path, ["image", "temperature"], dynamic=False)
    assert_not_yet(calibrated, calibrated.check(path), "rejects 5 images", "Expected: 2")


def test_calibrated_rejects_scores_that_are_not_probabilities(tmp_path, digits_and_cnn):
    digits, cnn = digits_and_cnn
    model = Calibrated(cnn, probabilities=False).eval()
    path = export_legacy(model, example(digits), tmp_path / "scores.onnx", ["image", "temperature"])
    assert_not_yet(calibrated, calibrated.check(path), "not probabilities", "sum to 1")


def test_calibrated_rejects_an_untrained_classifier(tmp_path, digits_and_cnn):
    from course_utils.models import DigitsCNN

    digits, _ = digits_and_cnn
    torch.manual_seed(0)
    untrained = Calibrated(DigitsCNN()).eval()
    path = export_legacy(untrained, example(digits), tmp_path / "untrained.onnx", ["image", "temperature"])
    assert_not_yet(calibrated, calibrated.check(path), "differ from the trained classifier")


@pytest.mark.parametrize(
    "answer,fragment",
    [(None, "no model yet"), (42, "path of the exported file"), ("missing.onnx", "No model file")],
)
def test_calibrated_learner_mistakes(answer, fragment):
    assert_not_yet(calibrated, calibrated.check(answer), fragment)


def test_calibrated_rejects_an_invalid_graph(tmp_path):
    helper = onnx.helper
    graph = helper.make_graph(
        [helper.make_node("Relu", ["nothing_produces_this"], ["probabilities"])],
        "broken",
        [helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, ["batch", 1, 8, 8])],
        [helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, ["batch", 10])],
    )
    path = tmp_path / "broken.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    assert_not_yet(calibrated, calibrated.check(path), "checker rejects")
