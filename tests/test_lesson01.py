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
from course_utils.lessons.lesson01 import STATEMENTS, predict, replacement_gate, stages
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


@pytest.mark.parametrize("exercise", [predict, stages, replacement_gate], ids=lambda e: e.id)
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


def test_stages_rule_picks_one_answer_and_says_why_the_other_is_not_it():
    # Under the rule a failure a tool reports goes to that tool's stage, even when it is about what the file
    # holds: 'ir_too_new' at the file (the IR version is stored there) is answered with the rule's first part,
    # never with a claim that the file neither reports nor holds it.
    feedback = stages.check({**RIGHT, "ir_too_new": "onnx"})
    assert_not_yet(stages, feedback, "1 of 6", "ir_too_new", "Reported by a tool: ir_too_new")
    assert "neither reports nor holds" not in str(feedback)
    # A parity failure read as "the outputs" (what it is about) is answered the same way.
    feedback = stages.check({**RIGHT, "scores_differ": "outputs"})
    assert_not_yet(stages, feedback, "Reported by a tool: scores_differ")
    # A fact placed at a tool: no "reported by a tool" line for it.
    feedback = stages.check({**RIGHT, "opset_declared": "check"})
    assert_not_yet(stages, feedback, "opset_declared")
    assert "Reported by a tool" not in str(feedback)


def test_stages_feedback_never_names_the_right_stage_of_a_wrong_answer():
    feedback = stages.check({**RIGHT, "ir_too_new": "provider"})
    assert "session" not in str(feedback).replace("Session", "")  # no "ir_too_new ... session"


# --------------------------------------------------------------------------------------------- 01.3


def _session(path):
    return ort.InferenceSession(path, providers=["CPUExecutionProvider"])


def _contract(session, names_of_dims=False):
    def describe(values):
        return [
            (v.name, v.type, list(v.shape) if names_of_dims else [d if isinstance(d, int) else "?" for d in v.shape])
            for v in values
        ]

    return describe(session.get_inputs()), describe(session.get_outputs())


def _gate(*, checker=True, outputs=True, names_of_dims=False, parity="allclose", catch=True):
    """A gate with one of the mistakes a learner makes (the defaults make it right)."""

    def replaces(candidate, deployed, images):
        try:
            if checker:
                onnx.checker.check_model(onnx.load(candidate), full_check=True)
            new, old = _session(candidate), _session(deployed)
            a, b = _contract(new, names_of_dims), _contract(old, names_of_dims)
            if a[0] != b[0] or (outputs and a[1] != b[1]):
                return False
            feed = {old.get_inputs()[0].name: images}
            got, want = new.run(None, feed), old.run(None, feed)
        except Exception:
            if not catch:
                raise
            return False
        if parity == "argmax":
            return all(np.array_equal(g.argmax(axis=1), w.argmax(axis=1)) for g, w in zip(got, want, strict=True))
        if parity == "equal":
            return all(np.array_equal(g, w) for g, w in zip(got, want, strict=True))
        return all(np.allclose(g, w, rtol=1e-4, atol=1e-5) for g, w in zip(got, want, strict=True))

    return replaces


def lesson_gate(candidate, deployed, images):
    # Section 5's ci_gate, wrapped to answer True/False: the deployed contract written down by hand.
    try:
        onnx.checker.check_model(onnx.load(candidate), full_check=True)
        session = _session(candidate)
        signature = [(i.name, i.type, i.shape) for i in session.get_inputs()]
        assert signature == [("image", "tensor(float)", ["batch", 1, 8, 8])]
        expected = _session(deployed).run(None, {"image": images})[0]
        np.testing.assert_allclose(session.run(None, {"image": images})[0], expected, rtol=1e-4, atol=1e-5)
    except Exception:
        return False
    return True


def test_replacement_gate_right_answers_pass():
    assert replacement_gate.check(_gate()).passed
    # Another right answer: the contract read from the files' graphs instead of from sessions.

    def from_graphs(candidate, deployed, images):
        def contract(path):
            graph = onnx.load(path).graph
            return [
                (
                    v.name,
                    v.type.tensor_type.elem_type,
                    [d.dim_value if d.HasField("dim_value") else None for d in v.type.tensor_type.shape.dim],
                )
                for v in (*graph.input, *graph.output)
            ]

        try:
            onnx.checker.check_model(onnx.load(candidate), full_check=True)
            if contract(candidate) != contract(deployed):
                return False
            got = _session(candidate).run(None, {"image": images})
        except Exception:
            return False
        want = _session(deployed).run(None, {"image": images})
        return bool(np.allclose(got[0], want[0], rtol=1e-4, atol=1e-5))

    assert replacement_gate.check(from_graphs).passed


def test_replacement_gate_candidates_are_what_they_claim():
    images = load_digits().x_test
    candidates = {c.label: c for c in lesson01._candidates()}
    deployed = candidates["an identical copy"].model
    want = _session(deployed.SerializeToString()).run(None, {"image": images})[0]
    rounding = next(c for label, c in candidates.items() if "last float32 digits" in label)
    got = _session(rounding.model.SerializeToString()).run(None, {"image": images})[0]
    assert not np.array_equal(got, want) and np.allclose(got, want, rtol=1e-4, atol=1e-5)
    shifted = next(c for label, c in candidates.items() if "0.01 higher" in label)
    got = _session(shifted.model.SerializeToString()).run(None, {"image": images})[0]
    assert np.array_equal(got.argmax(axis=1), want.argmax(axis=1)) and not np.allclose(got, want, 1e-4, 1e-5)
    assert sum(c.may_replace for c in candidates.values()) == 3 and len(candidates) == 9


@pytest.mark.parametrize(
    "answer,fragments",
    [
        (lesson_gate, ["called 'N'", "blocks it", "only a label"]),  # the lesson's hard-coded contract
        (_gate(names_of_dims=True), ["called 'N'", "blocks it"]),  # symbolic names compared as if they mattered
        (_gate(outputs=False), ["output is called 'scores'", "lets it replace"]),  # inputs only
        (_gate(parity="argmax"), ["0.01 higher", "not the arg-max"]),  # same classes taken for parity
        (_gate(parity="equal"), ["last float32 digits", "not bit for bit"]),  # bit-for-bit parity
        (_gate(checker=False), ["checker rejects", "lets it replace"]),  # ONNX Runtime runs it: taken as valid
        (_gate(catch=False), ["raised", "must not crash"]),  # a fixed batch makes run() raise
        (lambda candidate, deployed, images: True, ["lets it replace"]),  # the untouched starting cell
        (lambda candidate, deployed, images: False, ["an identical copy", "blocks it"]),
        (lambda candidate, deployed, images: "yes", ["True or False"]),
        (np.zeros(3), ["function itself"]),
    ],
)
def test_replacement_gate_wrong_answers(answer, fragments):
    assert_not_yet(replacement_gate, replacement_gate.check(answer), *fragments)
