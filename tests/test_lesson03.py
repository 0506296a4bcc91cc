"""Lesson 03's exercises: right answers pass, each kind of wrong answer gets feedback, solutions stay correct."""

from __future__ import annotations

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from course_test_helpers import assert_wrong

from course_utils.lessons import lesson03
from course_utils.lessons.exercises import Exercise, SolutionRun
from course_utils.models.data import Digits, load_digits
from course_utils.runtime import numpy_dtype

EXERCISES = [lesson03.keras_nchw, lesson03.layout, lesson03.forest, lesson03.feed, lesson03.rgb_keras]


def run_solution(exercise: Exercise, **names) -> SolutionRun:
    """Run an exercise's hidden solution as the notebook's Solutions cell does, with the notebook's names."""
    return exercise.run_solution({"lesson03": lesson03, "np": np, "ort": ort, **names})


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

    from course_utils.models.data import load_digits_keras

    keras_model = load_digits_keras()
    spec = (tf.TensorSpec((None, 8, 8, 1), tf.float32, name="image"),)

    @tf.function(input_signature=spec)
    def serve(image):
        return {"probabilities": keras_model(image, training=False)}

    return {"tf": tf, "tf2onnx": tf2onnx, "serve": serve, "spec": spec, "folder": tmp_path_factory.mktemp("keras")}


@pytest.mark.slow
def test_keras_nchw_solution_passes(keras_route):
    def artifact_path(name, lesson):
        return keras_route["folder"] / name

    run = run_solution(lesson03.keras_nchw, artifact_path=artifact_path, **keras_route)
    assert run.passed, run
    assert "max abs error" in run.detail


@pytest.mark.slow
def test_keras_nchw_rejects_the_channels_last_conversion(keras_route):
    path = keras_route["folder"] / "nhwc.onnx"
    keras_route["tf2onnx"].convert.from_function(
        keras_route["serve"], input_signature=keras_route["spec"], opset=17, output_path=str(path)
    )
    feedback = assert_wrong(lesson03.keras_nchw, lesson03.keras_nchw.check(path))
    assert "not channels-first" in feedback.message and "(N, 1, 8, 8)" in feedback.why


def test_keras_nchw_rejects_a_fixed_batch(tmp_path):
    path = tmp_path / "fixed.onnx"
    onnx.save(image_model([2, 1, 8, 8]), path)
    feedback = assert_wrong(lesson03.keras_nchw, lesson03.keras_nchw.check(path))
    assert "batch dimension is fixed" in feedback.message


@pytest.mark.slow
def test_keras_nchw_rejects_wrong_numbers(tmp_path):
    pytest.importorskip("tensorflow")
    path = tmp_path / "uniform.onnx"
    onnx.save(image_model(["N", 1, 8, 8]), path)  # right interface, uniform probabilities
    feedback = assert_wrong(lesson03.keras_nchw, lesson03.keras_nchw.check(path))
    assert "does not give Keras' probabilities" in feedback.message
    assert "FAILED" in feedback.got


@pytest.mark.parametrize(
    "answer,fragment",
    [(None, "pass the path"), ("no/such/model.onnx", "no file at"), (b"not onnx", "not an ONNX model")],
)
def test_keras_nchw_learner_mistakes(answer, fragment):
    feedback = assert_wrong(lesson03.keras_nchw, lesson03.keras_nchw.check(answer))
    assert fragment.lower() in str(feedback).lower()


# --------------------------------------------------------------------------------------------- 03.2


def test_layout_solution_passes():
    assert run_solution(lesson03.layout).passed


def test_layout_reshape_is_explained():
    feedback = assert_wrong(
        lesson03.layout, lesson03.layout.check(lambda x: x.reshape(x.shape[0], *x.shape[2:], x.shape[1]))
    )
    assert "reshape" in feedback.why and "3, 4, 5" in feedback.message


def test_layout_the_lessons_4d_transpose_is_not_enough():
    # The lesson's NCHW -> NHWC permutation, copied: right for images, wrong for signals and volumes.
    feedback = assert_wrong(lesson03.layout, lesson03.layout.check(lambda x: x.transpose(0, 2, 3, 1)))
    assert "(3, 2, 7)" in feedback.message and "1-D signals" in feedback.message


def test_layout_hard_coded_per_rank_misses_volumes():
    def by_rank(x):  # images and signals handled, volumes forgotten
        return x.transpose(0, 2, 3, 1) if x.ndim == 4 else x.transpose(0, 2, 1)

    feedback = assert_wrong(lesson03.layout, lesson03.layout.check(by_rank))
    assert "3-D volumes" in feedback.message


def test_layout_reversing_every_axis_is_wrong():
    # np.transpose(x) without axes reverses all of them: channels last, but batch last too.
    feedback = assert_wrong(lesson03.layout, lesson03.layout.check(lambda x: x.transpose()))
    assert "wrong shape" in feedback.message or "wrong values" in feedback.message


def test_layout_wrong_transpose_has_right_shape_only_for_square_images():
    feedback = assert_wrong(lesson03.layout, lesson03.layout.check(lambda x: x.transpose(0, 3, 2, 1)))
    assert "wrong shape" in feedback.message or "wrong values" in feedback.message


def test_layout_swapping_channels_with_the_last_axis_is_wrong():
    # swapaxes(1, -1) puts channels last but reverses the order of the spatial axes in between
    feedback = assert_wrong(lesson03.layout, lesson03.layout.check(lambda x: np.swapaxes(x, 1, -1)))
    assert "wrong" in feedback.message


def test_layout_nhwc_to_nchw_direction_is_wrong():
    feedback = assert_wrong(lesson03.layout, lesson03.layout.check(lambda x: x.transpose(0, 3, 1, 2)))
    assert "wrong shape" in feedback.message or "raised" in feedback.message


def test_layout_other_right_answers_pass():
    assert lesson03.layout.check(lambda x: x.transpose(0, *range(2, x.ndim), 1)).passed
    assert lesson03.layout.check(lambda x: np.einsum("nc...->n...c", x)).passed


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
    x_test = Digits.flat(digits.x_test)
    return {"rf": rf, "X_train": x_train, "X_test": x_test, "to_onnx": to_onnx, "y_train": digits.y_train}


def test_forest_solution_passes(forest_setup):
    run = run_solution(lesson03.forest, **forest_setup)
    assert run.passed, run


def test_forest_zipmap_is_rejected_without_naming_the_option(forest_setup):
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1])
    feedback = assert_wrong(lesson03.forest, lesson03.forest.check(model, forest_setup["rf"]))
    assert "sequence of maps" in feedback.message


def test_forest_the_lessons_pipeline_is_not_a_forest(forest_setup):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    pipe = make_pipeline(StandardScaler(), LogisticRegression(max_iter=200)).fit(
        forest_setup["X_train"], forest_setup["y_train"]
    )
    pipe_onnx = forest_setup["to_onnx"](pipe, forest_setup["X_train"][:1], options={"zipmap": False})
    feedback = assert_wrong(lesson03.forest, lesson03.forest.check(pipe_onnx, pipe))
    assert "random forest" in feedback.message
    # the pipeline's model with the forest as the estimator: no trees in the graph
    feedback = assert_wrong(lesson03.forest, lesson03.forest.check(pipe_onnx, forest_setup["rf"]))
    assert feedback.message == "this ONNX model holds no trees"


def test_forest_another_estimator_fails_parity(forest_setup):
    from sklearn.ensemble import RandomForestClassifier

    other = RandomForestClassifier(n_estimators=5, max_depth=6, random_state=1).fit(
        forest_setup["X_train"], forest_setup["y_train"]
    )
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1], options={"zipmap": False})
    feedback = assert_wrong(lesson03.forest, lesson03.forest.check(model, other))
    assert "does not match" in feedback.message
    assert feedback.got and not feedback.got.rstrip().endswith(";"), feedback.got  # no dangling separator


def test_forest_needs_a_fitted_classifier(forest_setup):
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1], options={"zipmap": False})
    feedback = assert_wrong(lesson03.forest, lesson03.forest.check(model, "rf"))
    assert "fitted random forest" in feedback.message


def test_forest_accepts_a_saved_path(forest_setup, tmp_path):
    model = forest_setup["to_onnx"](forest_setup["rf"], forest_setup["X_train"][:1], options={"zipmap": False})
    path = tmp_path / "rf.onnx"
    onnx.save(model, path)
    assert lesson03.forest.check(path, forest_setup["rf"]).passed


# --------------------------------------------------------------------------------------------- 03.4


def test_feed_solution_passes():
    run = run_solution(lesson03.feed)
    assert run.passed, run
    assert "numpy_dtype" not in lesson03.feed.solution_code  # real APIs only


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
        # Reads the dtype from the session's output (the same as the input's only in a model that mirrors it).
        (
            lambda session, x: {session.get_inputs()[0].name: x.astype(numpy_dtype(session.get_outputs()[0].type))},
            "wrong dtype",
        ),
        # Casts to float32 unless the input name says otherwise: a guess, not what the session declares.
        (
            lambda session, x: {
                session.get_inputs()[0].name: x.astype(
                    np.float64 if session.get_inputs()[0].name == "X" else np.float32
                )
            },
            "wrong dtype",
        ),
    ],
)
def test_feed_wrong_answers(make_feed, fragment):
    feedback = assert_wrong(lesson03.feed, lesson03.feed.check(make_feed))
    assert fragment in feedback.message


def test_every_exercise_has_hints_giveaways_and_a_solution():
    assert [e.id for e in EXERCISES] == ["03.1", "03.2", "03.3", "03.4", "03.5"]
    for exercise in EXERCISES:
        assert len(exercise.hints) >= 2 and exercise.giveaways
        assert ".check(" in exercise.solution_code.strip().splitlines()[-1]
        assert "course_utils.runtime" not in exercise.solution_code


# --------------------------------------------------------------------------------------------- 03.5


@pytest.mark.slow
def test_rgb_keras_solution_passes(keras_route):
    def artifact_path(name, lesson):
        return keras_route["folder"] / name

    run = run_solution(lesson03.rgb_keras, artifact_path=artifact_path, **keras_route)
    assert run.passed, run


@pytest.fixture(scope="module")
def rgb_route(keras_route):
    tf = keras_route["tf"]
    rgb = lesson03.rgb_keras_model()
    spec = (tf.TensorSpec((None, *lesson03.RGB_SHAPE), tf.float32, name="photo"),)

    @tf.function(input_signature=spec)
    def named(photo):
        return {"scores": rgb(photo, training=False)}

    @tf.function(input_signature=spec)
    def unnamed(photo):
        return rgb(photo, training=False)

    def convert(fn, name, opset=17, **kwargs):
        path = keras_route["folder"] / name
        keras_route["tf2onnx"].convert.from_function(
            fn, input_signature=spec, opset=opset, output_path=str(path), **kwargs
        )
        return path

    return {"named": named, "unnamed": unnamed, "convert": convert}


@pytest.mark.slow
def test_rgb_keras_channels_last_is_caught(rgb_route):
    path = rgb_route["convert"](rgb_route["named"], "rgb_nhwc.onnx")
    feedback = assert_wrong(lesson03.rgb_keras, lesson03.rgb_keras.check(path))
    assert "not channels-first" in feedback.message


@pytest.mark.slow
def test_rgb_keras_other_opset_is_caught(rgb_route):
    # Everything right but the opset the client asked for (tf2onnx's own default, or a newer one).
    path = rgb_route["convert"](rgb_route["named"], "rgb_opset15.onnx", opset=15, inputs_as_nchw=["photo"])
    feedback = assert_wrong(lesson03.rgb_keras, lesson03.rgb_keras.check(path))
    assert "not the opset the client asked for" in feedback.message and "opset 15" in feedback.got


@pytest.mark.slow
def test_rgb_keras_unnamed_output_is_caught(rgb_route):
    path = rgb_route["convert"](rgb_route["unnamed"], "rgb_unnamed.onnx", inputs_as_nchw=["photo"])
    feedback = assert_wrong(lesson03.rgb_keras, lesson03.rgb_keras.check(path))
    assert "called scores" in feedback.message


@pytest.mark.slow
def test_rgb_keras_reshape_instead_of_transpose_is_caught(rgb_route, tmp_path):
    # A channels-first interface made with a Reshape in front (the 03.2 bug, inside the model): right shapes,
    # scrambled channels, so only the numbers show it.
    path = rgb_route["convert"](rgb_route["named"], "rgb_for_reshape.onnx")
    model = onnx.load(path)
    graph = model.graph
    old = graph.input[0].name
    graph.input[0].name = "photo_nchw"
    dims = graph.input[0].type.tensor_type.shape.dim
    h, w, c = (d.dim_value for d in dims[1:])
    dims[1].dim_value, dims[2].dim_value, dims[3].dim_value = c, h, w
    shape = onnx.numpy_helper.from_array(np.array([-1, h, w, c], dtype=np.int64), "nhwc_shape")
    graph.initializer.append(shape)
    graph.node.insert(0, onnx.helper.make_node("Reshape", ["photo_nchw", "nhwc_shape"], [old]))
    onnx.save(model, tmp_path / "reshaped.onnx")
    feedback = assert_wrong(lesson03.rgb_keras, lesson03.rgb_keras.check(tmp_path / "reshaped.onnx"))
    assert "differ from the Keras model's" in feedback.message
