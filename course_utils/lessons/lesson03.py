"""Exercises of lesson 03 (exporting from TensorFlow/Keras and scikit-learn).

    from course_utils.lessons import lesson03
    lesson03.keras_nchw.check(path)          # 03.1 convert the Keras model with a channels-first input
    lesson03.layout.check(to_channels_last)  # 03.2 (transfer) fix a layout conversion, for any rank
    lesson03.forest.check(model, rf)         # 03.3 convert a random forest with plain tensor outputs
    lesson03.feed.check(make_feed)           # 03.4 feed a session the dtype it declares
    lesson03.rgb_keras.check(path)           # 03.5 (transfer) convert a 3-channel Keras functional model

Feedback says what is wrong and why, never the fix; ``.hint()`` and ``.solution()`` give it on request.
TensorFlow/Keras are imported only by the checks of 03.1 and 03.5, scikit-learn only by 03.3's.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from course_utils.lessons._answers import expect_valid_model, load_answer, run_answer
from course_utils.lessons.exercises import Exercise, NotYet, expect
from course_utils.models.data import Digits, load_digits
from course_utils.onnxfile.modelio import ModelSource
from course_utils.onnxfile.render import measurement
from course_utils.onnxfile.verify import compare_outputs
from course_utils.runtime.run import numpy_dtype

__all__ = ["RGB_OPSET", "RGB_SHAPE", "feed", "forest", "keras_nchw", "layout", "rgb_keras", "rgb_keras_model"]


def _load(source: Any, what: str) -> onnx.ModelProto:
    return load_answer(source, wrong_type=f"pass {what} (a path, or the onnx.ModelProto the converter returned)")


def _run(model: ModelSource, inputs: Any) -> dict[str, Any]:
    return run_answer(model, inputs, "running your model failed")


# ------------------------------------------------------------------------------------------ 03.1


def _check_keras_nchw(source: ModelSource) -> str:
    from course_utils.models.data import load_digits_keras

    model = _load(source, "the path of your converted model")
    inputs = list(expect_valid_model(model).inputs)
    expect(len(inputs) == 1, "the model should have one input, the images", got=[i.name for i in inputs])
    shape = inputs[0].shape
    expect(
        shape is not None and len(shape) == 4 and tuple(shape[1:]) == (1, 8, 8),
        "the input is not channels-first",
        why="the serving code sends PyTorch-style (N, 1, 8, 8) images; a model that reads (N, 8, 8, 1) rejects them",
        expected="[batch, 1, 8, 8]",
        got=inputs[0].shape_text,
    )
    assert shape is not None  # the expect above rules None out
    expect(
        not isinstance(shape[0], int),  # a name or an unknown (None) dim is dynamic
        "the batch dimension is fixed",
        why="a session built from this file accepts only that batch size",
        expected="a dynamic first dimension",
        got=inputs[0].shape_text,
    )
    digits = load_digits()
    probabilities = np.asarray(load_digits_keras()(Digits.nhwc(digits.x_test), training=False))
    actual = _run(model, [digits.x_test])
    expect(len(actual) == 1, "the model should have one output, the class probabilities", got=list(actual))
    parity = compare_outputs([probabilities], list(actual.values()), names=["probabilities"])
    expect(
        parity.passed,
        "the converted model does not give Keras' probabilities on the NCHW test images",
        why="the check compares with course_utils.load_digits_keras() in inference mode on the test digits",
        got=str(parity).splitlines()[0],
    )
    return (
        f"channels-first input {inputs[0].shape_text}; parity with Keras on 360 test digits "
        f"(max abs error {measurement(parity.max_abs)})"
    )


keras_nchw = Exercise(
    "03.1",
    "Convert the Keras model with a channels-first input",
    _check_keras_nchw,
    hints=[
        "You could transpose in the client, but the exercise wants the model itself to take (N, 1, 8, 8). Which "
        "tool writes the model's input? Read the options of tf2onnx.convert.from_function (help(...)).",
        "tf2onnx can insert the layout change at a named model input for you: one argument of from_function "
        "takes a list of input names that should be channels-first (the CLI has the same option).",
        "Reuse `spec` and `serve` from sections 2 and 3: tf2onnx.convert.from_function(serve, "
        "input_signature=spec, opset=17, inputs_as_nchw=['image'], output_path=...).",
    ],
    solution_code="""
nchw_path = artifact_path("solution_digits_keras_nchw.onnx", lesson="03")
tf2onnx.convert.from_function(
    serve, input_signature=spec, opset=17, inputs_as_nchw=["image"], output_path=str(nchw_path)
)
session = ort.InferenceSession(nchw_path, providers=["CPUExecutionProvider"])
assert session.get_inputs()[0].shape[1:] == [1, 8, 8]  # channels-first now
lesson03.keras_nchw.check(nchw_path)
""",
    giveaways=("inputs_as_nchw", "inputs-as-nchw"),
)


# ------------------------------------------------------------------------------------------ 03.2


#: The inputs of exercise 03.2: channels-first batches of every rank the function must handle, and what they are.
_LAYOUT_CASES: tuple[tuple[tuple[int, ...], str], ...] = (
    ((2, 1, 8, 8), "images with one channel, like the digits"),
    ((2, 3, 4, 5), "RGB images, not square"),
    ((3, 2, 7), "a batch of 1-D signals with 2 channels (N, C, L), as Conv1d takes them"),
    ((2, 3, 4, 5, 6), "a batch of 3-D volumes with 3 channels (N, C, D, H, W), as Conv3d takes them"),
    ((1, 4, 3, 3), "a batch of one, 4 channels, square images"),
)


def _channels_last(x: np.ndarray) -> np.ndarray:
    return np.moveaxis(x, 1, -1)


def _check_layout(fn: Callable[[np.ndarray], np.ndarray]) -> str:
    expect(callable(fn), "pass your function itself, e.g. check(to_channels_last)", got=type(fn).__name__)
    rng = np.random.default_rng(0)
    for shape, why in _LAYOUT_CASES:
        x = rng.random(shape, dtype=np.float32)
        want = _channels_last(x)
        try:
            got = np.asarray(fn(x.copy()))
        except Exception as error:  # the learner's code may fail in any way: say on which input
            raise NotYet(
                f"your function raised {type(error).__name__} for an input of shape {shape} ({why})",
                why="the function must handle channels-first data of any rank: the channels are on axis 1, "
                "followed by however many spatial axes the data has",
                got=str(error).strip().splitlines()[0][:200] if str(error).strip() else None,
            ) from None
        expect(
            got.shape == want.shape,
            f"wrong shape for an input of shape {shape} ({why})",
            why="channels-last keeps the batch first and every other axis in its order, with the channels last",
            expected=want.shape,
            got=got.shape,
        )
        if not np.array_equal(got, want):
            message = f"right shape, wrong values for {shape} ({why})"
            reason = "each position's channel values must end up together on the last axis, in the same order"
            if np.array_equal(got, x.reshape(want.shape)):
                reason = (
                    "a reshape keeps the values in memory order and only re-reads them with a new shape: with more "
                    "than one channel, values of different channels and positions get mixed"
                )
            raise NotYet(
                message,
                why=reason,
                expected="the same values, channels moved to the last axis",
                got="the values in another order",
            )
    return "the same values in the channels-last order for signals, images and volumes, with 1 to 4 channels"


layout = Exercise(
    "03.2",
    "Find why this layout conversion is wrong, and make it work for any rank (transfer)",
    _check_layout,
    hints=[
        "Try it on a small array with 3 channels, e.g. x = np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2): does "
        "to_channels_last(x)[0, 0, 0] hold the 3 channel values of the first pixel, x[0, :, 0, 0]?",
        "A reshape re-reads the same memory order; moving an axis needs another operation. Section 6 moved the "
        "axes of a 4-D batch; here the number of spatial axes after the channels varies (1 for signals, 3 for "
        "volumes). Which axes stay in order, and which one moves?",
        "Axis 1 goes to the end, the others keep their order: np.moveaxis(x, 1, -1), or "
        "x.transpose(0, *range(2, x.ndim), 1).",
    ],
    solution_code="""
def to_channels_last(x):
    return np.moveaxis(x, 1, -1)  # move one axis; reshape would keep the memory order


lesson03.layout.check(to_channels_last)
""",
    giveaways=("moveaxis", "range(2, x.ndim)", "range(2,", "np.transpose", ".transpose(", "transpose(0, 2, 3, 1)"),
)


# ------------------------------------------------------------------------------------------ 03.3


def _check_forest(source: ModelSource, estimator: Any) -> str:
    from sklearn.ensemble import RandomForestClassifier

    expect(
        isinstance(estimator, RandomForestClassifier) and hasattr(estimator, "classes_"),
        "pass the fitted random forest as the second argument",
        why="the exercise converts a forest; the check compares the ONNX model with the estimator you pass",
        expected="a fitted RandomForestClassifier",
        got=type(estimator).__name__,
    )
    model = _load(source, "your converted model")
    expect_valid_model(model)
    ops = sorted({n.op_type for n in model.graph.node})
    expect(
        any(op.startswith("TreeEnsemble") for op in ops),
        "this ONNX model holds no trees",
        why="a converted random forest computes with a TreeEnsembleClassifier node (ai.onnx.ml); this is the "
        "conversion of another model",
        got=", ".join(ops),
    )
    kinds = {o.name: o.type.WhichOneof("value") for o in model.graph.output}
    not_tensors = [name for name, kind in kinds.items() if kind != "tensor_type"]
    expect(
        not not_tensors,
        f"output {not_tensors[0] if not_tensors else ''} is not a tensor but a sequence of maps (one dict per row)",
        why="a list of dicts is slow to build and cannot be compared, sliced or batched like an array",
        expected="two tensors: labels (N,) and probabilities (N, 10)",
        got=", ".join(f"{n}: {k}" for n, k in kinds.items()),
    )
    expect(len(kinds) == 2, "a classifier converts to two outputs, labels and probabilities", got=list(kinds))
    digits = load_digits()
    x = Digits.flat(digits.x_test)
    declared = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"]).get_inputs()
    dtype = numpy_dtype(declared[0].type) or np.float32
    actual = _run(model, [x.astype(dtype)])
    expected = [estimator.predict(x), estimator.predict_proba(x)]
    parity = compare_outputs(expected, list(actual.values()), names=list(actual))
    expect(
        parity.passed,
        "the ONNX model does not match the estimator you passed",
        why="the ONNX model must be the conversion of the very estimator you pass",
        got="; ".join([str(parity).splitlines()[0], *(parity.notes or ())]),
    )
    return f"tensor outputs {list(actual)}; labels equal and probabilities within tolerance on 360 digits"


forest = Exercise(
    "03.3",
    "Convert a random forest with plain tensor outputs",
    _check_forest,
    hints=[
        "Print the converted model's outputs (rf_onnx.graph.output): which operator makes the probabilities a "
        "sequence of maps? Section 7 met it.",
        "skl2onnx converters take per-model options; one of them switches that last operator off.",
        "to_onnx(rf, X_train[:1], options={'zipmap': False}) gives the probabilities as a (N, 10) tensor.",
    ],
    solution_code="""
rf_onnx = to_onnx(rf, X_train[:1], options={"zipmap": False})
session = ort.InferenceSession(rf_onnx.SerializeToString(), providers=["CPUExecutionProvider"])
label, probabilities = session.run(None, {"X": X_test})
np.testing.assert_array_equal(label, rf.predict(X_test))
np.testing.assert_allclose(probabilities, rf.predict_proba(X_test), rtol=1e-4, atol=1e-5)
lesson03.forest.check(rf_onnx, rf)
""",
    giveaways=("zipmap': false", 'zipmap": false', "zipmap=false", "options="),
)


# ------------------------------------------------------------------------------------------ 03.4


def _toy_session(dtype: int, name: str) -> ort.InferenceSession:
    """A one-input session whose output has *another* element type than its input (a Cast): an answer that reads
    the output's type, or copies the input's dtype from anywhere but the input, shows."""
    helper = onnx.helper
    out_type = onnx.TensorProto.DOUBLE if dtype == onnx.TensorProto.FLOAT else onnx.TensorProto.FLOAT
    x = helper.make_tensor_value_info(name, dtype, ["N", 3])
    y = helper.make_tensor_value_info("y", out_type, ["N", 3])
    graph = helper.make_graph([helper.make_node("Cast", [name], ["y"], to=out_type)], "toy", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])


def _check_feed(fn: Callable[[ort.InferenceSession, np.ndarray], Mapping[str, np.ndarray]]) -> str:
    expect(callable(fn), "pass your function itself, e.g. check(make_feed)", got=type(fn).__name__)
    x64 = np.arange(6, dtype=np.float64).reshape(2, 3) / 4
    cases: list[tuple[int, str, np.ndarray, str]] = [
        (onnx.TensorProto.FLOAT, "X", x64, "a float32 model fed scikit-learn's usual float64 array"),
        (onnx.TensorProto.DOUBLE, "X", x64.astype(np.float32), "a float64 (double) model fed float32"),
        (onnx.TensorProto.FLOAT, "image", x64.astype(np.float32), "an input not called 'X'"),
        (onnx.TensorProto.INT64, "ids", x64 * 4, "an int64 model"),
    ]
    for dtype, name, x, why in cases:
        session = _toy_session(dtype, name)
        feed_dict: Any = fn(session, x)
        expect(
            isinstance(feed_dict, Mapping) and list(feed_dict) == [name],
            f"the feed must be a dict keyed by the session's input name ({why})",
            expected=f"{{'{name}': ...}}",
            why="ONNX Runtime matches inputs by name, and each model names its inputs its own way",
            got=list(feed_dict) if isinstance(feed_dict, Mapping) else type(feed_dict).__name__,
        )
        value = np.asarray(feed_dict[name])
        want = numpy_dtype(session.get_inputs()[0].type)
        expect(
            value.dtype == want,
            f"wrong dtype for {why}",
            why="ONNX Runtime never converts dtypes: it rejects a feed whose dtype differs from the declared one",
            expected=f"the dtype the session declares ({session.get_inputs()[0].type})",
            got=str(value.dtype),
        )
        expect(
            np.array_equal(value, x.astype(want)),
            f"the values changed ({why}); only the dtype should",
        )
        session.run(None, dict(feed_dict))  # must not raise now
    return f"all {len(cases)} sessions accept your feed: name and dtype come from the session"


feed = Exercise(
    "03.4",
    "Feed a session the dtype it declares",
    _check_feed,
    hints=[
        "Ask the session, not the data: session.get_inputs()[0] describes the input the model declares. Print "
        "its attributes.",
        "session.get_inputs()[0].type is a string such as 'tensor(float)', 'tensor(double)' or 'tensor(int64)'. "
        "Map each string to a NumPy dtype, then cast.",
        "inp = session.get_inputs()[0]; dtypes = {'tensor(float)': np.float32, 'tensor(double)': np.float64, "
        "'tensor(int64)': np.int64}; return {inp.name: np.asarray(x).astype(dtypes[inp.type])}.",
    ],
    solution_code="""
ONNX_TO_NUMPY = {"tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(int64)": np.int64}


def make_feed(session, x):
    declared = session.get_inputs()[0]  # its name and type, as the model declares them
    return {declared.name: np.asarray(x).astype(ONNX_TO_NUMPY[declared.type])}


lesson03.feed.check(make_feed)
""",
    giveaways=("astype(", "get_inputs()[0].type", "numpy_dtype", "np.float32)"),
)


# ------------------------------------------------------------------------------------------ 03.5

#: The input of the 3-channel Keras model of exercise 03.5, channels-last as Keras builds it: (height, width, channels).
RGB_SHAPE: tuple[int, int, int] = (16, 16, 3)


@functools.cache
def rgb_keras_model() -> Any:
    """A small Keras *functional* model for 16x16 RGB images: input ``photo`` (N, 16, 16, 3), five class
    probabilities out. Seeded weights, built once per session (the check compares with this very object)."""
    import keras

    keras.utils.set_random_seed(0)
    photo = keras.Input(RGB_SHAPE, name="photo")
    h = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(photo)
    h = keras.layers.MaxPooling2D()(h)
    h = keras.layers.Flatten()(h)
    scores = keras.layers.Dense(5, activation="softmax")(h)
    return keras.Model(photo, scores, name="rgb_classifier")


def _rgb_photos(batch: int) -> np.ndarray:
    """Channels-first photos (N, 3, 16, 16) with distinct values per channel, row and column."""
    height, width, channels = RGB_SHAPE
    return np.random.default_rng(batch).random((batch, channels, height, width), dtype=np.float32)


#: The opset exercise 03.5's client asks for.
RGB_OPSET = 17


def _check_rgb_keras(source: ModelSource) -> str:
    model = _load(source, "the path of your converted model")
    inputs = list(expect_valid_model(model).inputs)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    expect(
        opset == RGB_OPSET,
        f"the model imports ai.onnx opset {opset}, not the opset the client asked for",
        why="the client's runtime was chosen for one opset: a newer one may not load there, and an older one is "
        "not what was agreed",
        expected=f"opset {RGB_OPSET}",
        got=f"opset {opset}",
    )
    expect(len(inputs) == 1, "the model should have one input, the photos", got=[i.name for i in inputs])
    height, width, channels = RGB_SHAPE
    shape = inputs[0].shape
    expect(
        shape is not None and len(shape) == 4 and tuple(shape[1:]) == (channels, height, width),
        "the input is not channels-first",
        why="the client sends PyTorch-style photos (N, 3, 16, 16)",
        expected=f"[batch, {channels}, {height}, {width}]",
        got=inputs[0].shape_text,
    )
    assert shape is not None  # the expect above rules None out
    expect(
        isinstance(shape[0], str),
        "the batch dimension is fixed",
        why="a session built from this file accepts only that batch size",
        expected="a dynamic first dimension",
        got=inputs[0].shape_text,
    )
    outputs = [o.name for o in model.graph.output]
    expect(
        outputs == ["scores"],
        "the model should have one output called scores",
        why="the client reads the result by name; converters name outputs their own way (output_0, Identity:0)",
        expected=["scores"],
        got=outputs,
    )
    keras_model = rgb_keras_model()
    for batch in (1, 6):
        photos = _rgb_photos(batch)
        expected = np.asarray(keras_model(photos.transpose(0, 2, 3, 1), training=False))
        actual = _run(model, [photos])
        parity = compare_outputs([expected], list(actual.values()), names=["scores"])
        expect(
            parity.passed,
            f"with a batch of {batch} your model's scores differ from the Keras model's",
            why="the check feeds channels-first photos to your model and the same photos, channels-last, to "
            "lesson03.rgb_keras_model(); with 3 channels, a layout change that mixes channels and pixels shows",
            got=str(parity).splitlines()[0],
        )
    return f"channels-first input {inputs[0].shape_text} and Keras' scores for 3-channel photos, batches of 1 and 6"


rgb_keras = Exercise(
    "03.5",
    "Convert a 3-channel Keras functional model (transfer)",
    _check_rgb_keras,
    hints=[
        "Start from section 3: a tf.function with an input_signature. What are the name, dtype and shape of this "
        "model's input (rgb.inputs, rgb.input_shape)?",
        "Return a dict from the tf.function to name the output, and ask tf2onnx for a channels-first input as in "
        "exercise 03.1. Then read the input shape of your file.",
        "spec = (tf.TensorSpec((None, 16, 16, 3), tf.float32, name='photo'),); a tf.function returning "
        "{'scores': rgb(photo, training=False)}; tf2onnx.convert.from_function(fn, input_signature=spec, opset=17, "
        "inputs_as_nchw=['photo'], output_path=...).",
    ],
    solution_code="""
rgb = lesson03.rgb_keras_model()
rgb_spec = (tf.TensorSpec((None, 16, 16, 3), tf.float32, name="photo"),)


@tf.function(input_signature=rgb_spec, autograph=False)  # no Python control flow to convert
def serve_rgb(photo):
    return {"scores": rgb(photo, training=False)}


rgb_path = artifact_path("solution_rgb_nchw.onnx", lesson="03")
tf2onnx.convert.from_function(
    serve_rgb, input_signature=rgb_spec, opset=17, inputs_as_nchw=["photo"], output_path=str(rgb_path)
)
photos = np.random.default_rng(0).random((4, 3, 16, 16), dtype=np.float32)
session = ort.InferenceSession(rgb_path, providers=["CPUExecutionProvider"])
(scores,) = session.run(None, {"photo": photos})
np.testing.assert_allclose(scores, rgb(photos.transpose(0, 2, 3, 1), training=False), rtol=1e-4, atol=1e-5)
lesson03.rgb_keras.check(rgb_path)
""",
    giveaways=("inputs_as_nchw", "inputs-as-nchw", '{"scores"', "{'scores'"),
)
