"""Lesson 03's exercises: right answers pass, each kind of wrong answer gets feedback, solutions stay correct."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import onnx
import pytest

from course_utils.data import Digits, load_digits
from course_utils.exercises import Feedback
from course_utils.lessons import lesson03
from course_utils.runtime import numpy_dtype


def run_solution(exercise, **names) -> Feedback:
    """Execute an exercise's published solution (which ends in .check(...)) and return its feedback."""
    namespace = {"lesson03": lesson03, "np": np, **names}
    code = exercise.solution_code.strip()
    body, _, last = code.rpartition("\n")
    exec(body, namespace)
    return eval(last, namespace)


def image_model(shape: list[int | str], *, scale: float = 0.0) -> onnx.ModelProto:
    """A model taking images of ``shape`` and returning (N, 10) 'probabilities' (a constant pattern)."""
    helper = onnx.helper
    x = helper.make_tensor_value_info("image", onnx.TensorProto.FLOAT, shape)
    y = helper.make_tensor_value_info("probabilities", onnx.TensorProto.FLOAT, [shape[0], 10])
    weight = onnx.numpy_helper.from_array(np.full((64, 10), scale, dtype=np.float32), "weight")
    nodes = [
        helper.make_node("Flatten", ["image"], ["flat"]),
        helper.make_node("MatMul", ["flat", "weight"], ["scores"]),
        helper.make_node("Softmax", ["scores"], ["probabilities"], axis=1),
    ]
    model = helper.make_model(
        helper.make_graph(nodes, "images", [x], [y], [weight]), opset_imports=[helper.make_opsetid("", 17)]
    )
    model.ir_version = 8
    return model


# --------------------------------------------------------------------------------------------- 03.1


@pytest.fixture(scope="module")
def keras_route(tmp_path_factory):
    """The notebook's `serve` and `spec`, for converting the committed Keras model."""
    pytest.importorskip("tensorflow")
    import tensorflow as tf
    import tf2onnx

    from course_utils.data import load_digits_keras

    keras_model = load_digits_keras()
    spec = (tf.TensorSpec((None, 8, 8, 1), tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def serve(image):
        return {"probabilities": keras_model(image, training=False)}

    return {"tf2onnx": tf2onnx, "serve": serve, "spec": spec, "folder": tmp_path_factory.mktemp("keras")}


@pytest.mark.slow
def test_keras_nchw_solution_passes(keras_route):
    def artifact_path(name, lesson):
        return keras_route["folder"] / name

    feedback = run_solution(lesson03.keras_nchw, artifact_path=artifact_path, **keras_route)
    assert feedback.passed, feedback
    assert "max abs error" in feedback.message


@pytest.mark.slow
def test_keras_nchw_rejects_the_channels_last_conversion(keras_route):
    path = keras_route["folder"] / "nhwc.onnx"
    keras_route["tf2onnx"].convert.from_function(
        keras_route["serve"], input_signature=keras_route["spec"], opset=17, output_path=str(path)
    )
    feedback = lesson03.keras_nchw.check(path)
    assert not feedback.passed and "not channels-first" in feedback.message
    assert "inputs_as_nchw" in feedback.hint


def test_keras_nchw_rejects_a_fixed_batch(tmp_path):
    path = tmp_path / "fixed.onnx"
    onnx.save(image_model([2, 1, 8, 8]), path)
    feedback = lesson03.keras_nchw.check(path)
    assert not feedback.passed and "batch dimension is fixed" in feedback.message


@pytest.mark.slow
def test_keras_nchw_rejects_wrong_numbers(tmp_path):
    pytest.importorskip("tensorflow")
    path = tmp_path / "uniform.onnx"
    onnx.save(image_model(["N", 1, 8, 8]), path)  # right interface, uniform probabilities
    feedback = lesson03.keras_nchw.check(path)
    assert not feedback.passed and "does not give Keras' probabilities" in feedback.message
    assert "FAILED" in feedback.got


@pytest.mark.parametrize(
    "answer,fragment",
    [(None, "pass the path"), ("no/such/model.onnx", "No model file"), (b"not onnx", "not an ONNX model")],
)
def test_keras_nchw_learner_mistakes(answer, fragment):
    feedback = lesson03.keras_nchw.check(answer)
    assert not feedback.passed and fragment.lower() in str(feedback).lower()


# --------------------------------------------------------------------------------------------- 03.2


def test_layout_solution_passes():
    assert run_solution(lesson03.layout).passed


def test_layout_reshape_is_explained():
    feedback = lesson03.layout.check(lambda x: x.reshape(x.shape[0], x.shape[2], x.shape[3], x.shape[1]))
    assert not feedback.passed
    assert "reshape" in feedback.message and "3, 4, 5" in feedback.message


def test_layout_wrong_transpose_has_right_shape_only_for_square_images():
    feedback = lesson03.layout.check(lambda x: x.transpose(0, 3, 2, 1))
    assert not feedback.passed
    assert "wrong shape" in feedback.message or "wrong values" in feedback.message


def test_layout_nhwc_to_nchw_direction_is_wrong():
    feedback = lesson03.layout.check(lambda x: x.transpose(0, 3, 1, 2))
    assert not feedback.passed and "wrong shape" in feedback.message


def test_layout_not_callable():
    assert "function itself" in lesson03.layout.check(np.zeros(3)).message


# --------------------------------------------------------------------------------------------- 03.3


@pytest.fixture(scope="module")
def forest_setup():
    from skl2onnx import to_onnx
    from sklearn.ensemble import RandomForestClassifier

    digits = load_digits()
    x_train = Digits.flat(digits.x_train)
    rf = RandomForestClassifier(n_estimators=5, max_depth=6, random_state=0).fit(x_train, digits.y_train)
    return {"rf": rf, "X_train": x_train, "to_onnx": to_onnx, "y_train": digits.y_train}


def test_forest_solution_passes(forest_setup):
    feedback = run_solution(lesson03.forest, **forest_setup)
    assert feedback.passed, feedback


def test_forest_zipmap_is_rejected_with_the_option(forest_setup):
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1])
    feedback = lesson03.forest.check(model, forest_setup["rf"])
    assert not feedback.passed and "ZipMap" in feedback.message
    assert "zipmap" in feedback.hint


def test_forest_another_estimator_fails_parity(forest_setup):
    from sklearn.ensemble import RandomForestClassifier

    other = RandomForestClassifier(n_estimators=5, max_depth=6, random_state=1).fit(
        forest_setup["X_train"], forest_setup["y_train"]
    )
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1], options={"zipmap": False})
    feedback = lesson03.forest.check(model, other)
    assert not feedback.passed and "does not match" in feedback.message


def test_forest_needs_a_fitted_classifier(forest_setup):
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1], options={"zipmap": False})
    feedback = lesson03.forest.check(model, "rf")
    assert not feedback.passed and "fitted scikit-learn classifier" in feedback.message


def test_forest_accepts_a_saved_path(forest_setup, tmp_path):
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1], options={"zipmap": False})
    path = tmp_path / "rf.onnx"
    onnx.save(model, path)
    assert lesson03.forest.check(path, forest_setup["rf"]).passed


# --------------------------------------------------------------------------------------------- 03.4


def test_feed_solution_passes():
    assert run_solution(lesson03.feed, numpy_dtype=numpy_dtype).passed


@pytest.mark.parametrize(
    "make_feed,fragment",
    [
        (lambda session, x: {"X": x}, "wrong dtype"),
        (lambda session, x: {"X": x.astype(np.float32)}, "wrong dtype"),  # right for one case only
        (lambda session, x: {"input": x}, "keyed by the session's input name"),
        (lambda session, x: [x], "keyed by the session's input name"),
        (
            lambda session, x: {
                session.get_inputs()[0].name: np.round(x).astype(numpy_dtype(session.get_inputs()[0].type))
            },
            "values changed",
        ),
    ],
)
def test_feed_wrong_answers(make_feed, fragment):
    feedback = lesson03.feed.check(make_feed)
    assert not feedback.passed and fragment in feedback.message


def test_every_exercise_has_hints_and_a_solution():
    for exercise in (lesson03.keras_nchw, lesson03.layout, lesson03.forest, lesson03.feed):
        assert exercise.id.startswith("03.")
        assert len(exercise.hints) >= 2
        assert ".check(" in exercise.solution_code
