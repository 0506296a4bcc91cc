"""Exercises of lesson 03 (exporting from TensorFlow/Keras and scikit-learn).

    from course_utils.lessons import lesson03
    lesson03.keras_nchw.check(path)          # 03.1 convert the Keras model with a channels-first input
    lesson03.layout.check(nchw_to_nhwc)      # 03.2 find why a layout conversion is wrong
    lesson03.forest.check(model, rf)         # 03.3 convert a random forest with plain tensor outputs
    lesson03.feed.check(make_feed)           # 03.4 feed a session the dtype it declares

TensorFlow is imported only by the check of 03.1, scikit-learn only by 03.3's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from ..data import Digits, load_digits
from ..exercises import Exercise, NotYet, expect
from ..modelio import ModelSource
from ..runtime import numpy_dtype
from ..verify import compare_outputs
from ._answers import expect_valid_model, load_answer, run_answer

__all__ = ["feed", "forest", "keras_nchw", "layout"]


def _load(source: Any, what: str) -> onnx.ModelProto:
    return load_answer(source, wrong_type=f"pass {what} (a path, or the onnx.ModelProto the converter returned)")


def _run(model: ModelSource, inputs: Any) -> dict[str, Any]:
    return run_answer(model, inputs, "running your model failed")


# ------------------------------------------------------------------------------------------ 03.1


def _check_keras_nchw(source: ModelSource) -> str:
    from ..data import load_digits_keras

    model = _load(source, "the path of your converted model")
    inputs = list(expect_valid_model(model).inputs)
    expect(len(inputs) == 1, "the model should have one input, the images", got=[i.name for i in inputs])
    shape = inputs[0].shape
    expect(
        shape is not None and len(shape) == 4 and tuple(shape[1:]) == (1, 8, 8),
        "the input is not channels-first: the exercise wants the PyTorch layout (N, 1, 8, 8)",
        expected="[batch, 1, 8, 8]",
        got=inputs[0].shape_text,
        hint="tf2onnx.convert.from_function(..., inputs_as_nchw=['image']) inserts the transpose for you",
    )
    assert shape is not None  # the expect above rules None out
    expect(
        not isinstance(shape[0], int),  # a name or an unknown (None) dim is dynamic
        "the batch dimension is fixed; give the tf.TensorSpec a None batch so any batch size works",
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
        got=str(parity).splitlines()[0],
        hint="convert the committed model (course_utils.load_digits_keras()) in inference mode: training=False",
    )
    return (
        f"channels-first input {inputs[0].shape_text}; parity with Keras on 360 test digits "
        f"(max abs error {parity.max_abs:.1e})"
    )


keras_nchw = Exercise(
    "03.1",
    "Convert the Keras model with a channels-first input",
    _check_keras_nchw,
    hints=[
        "The Keras model takes (N, 8, 8, 1). tf2onnx can add the transpose at the model's input: look for "
        "`inputs_as_nchw` in tf2onnx.convert.from_function (the CLI has --inputs-as-nchw).",
        "Reuse `spec` from section 2 and `serve` from section 3: "
        "`tf2onnx.convert.from_function(serve, input_signature=spec, opset=17, inputs_as_nchw=['image'], "
        "output_path=...)`.",
    ],
    solution_code="""
nchw_path = artifact_path("digits_keras_nchw.onnx", lesson="03")
tf2onnx.convert.from_function(
    serve, input_signature=spec, opset=17, inputs_as_nchw=["image"], output_path=str(nchw_path)
)
lesson03.keras_nchw.check(nchw_path)
""",
)


# ------------------------------------------------------------------------------------------ 03.2


def _check_layout(fn: Callable[[np.ndarray], np.ndarray]) -> str:
    expect(callable(fn), "pass your function itself, e.g. check(nchw_to_nhwc)", got=type(fn).__name__)
    rng = np.random.default_rng(0)
    for shape, why in (
        ((2, 1, 8, 8), "one channel, like the digits"),
        ((2, 3, 4, 5), "three channels (RGB) and a non-square image"),
        ((1, 2, 3, 3), "a batch of one with square images"),
    ):
        x = rng.random(shape, dtype=np.float32)
        want = x.transpose(0, 2, 3, 1)
        got = np.asarray(fn(x))
        expect(
            got.shape == want.shape,
            f"wrong shape for an input of shape {shape} ({why})",
            expected=want.shape,
            got=got.shape,
        )
        if not np.array_equal(got, want):
            hint = "np.transpose moves axes; reshape only re-reads the same memory order with a new shape"
            message = f"right shape, wrong values for {shape} ({why})"
            if np.array_equal(got, x.reshape(want.shape)):
                message += ": this is a reshape, which keeps the memory order and scrambles the pixels"
                if shape[1] == 1:
                    message += " (with one channel it happens to work)"
            raise NotYet(message, expected="x.transpose(0, 2, 3, 1)", got="different pixel order", hint=hint)
    return "the same pixels in the channels-last order, for 1 and 3 channels"


layout = Exercise(
    "03.2",
    "Find why this layout conversion is wrong",
    _check_layout,
    hints=[
        "Compare `x.reshape(...)` and `x.transpose(...)` on a small array with 3 channels, e.g. "
        "np.arange(2 * 3 * 2 * 2).reshape(2, 3, 2, 2): which one keeps each pixel's 3 values together?",
        "NCHW has axes (0=N, 1=C, 2=H, 3=W); NHWC wants (N, H, W, C), i.e. axes 0, 2, 3, 1 in that order.",
    ],
    solution_code="""
def nchw_to_nhwc(x):
    return x.transpose(0, 2, 3, 1)  # move axes; reshape would keep the memory order

lesson03.layout.check(nchw_to_nhwc)
""",
)


# ------------------------------------------------------------------------------------------ 03.3


def _check_forest(source: ModelSource, estimator: Any) -> str:
    expect(
        hasattr(estimator, "predict_proba") and hasattr(estimator, "classes_"),
        "pass the fitted scikit-learn classifier as the second argument",
        got=type(estimator).__name__,
        hint="fit it first: RandomForestClassifier(...).fit(X_train, y_train)",
    )
    model = _load(source, "your converted model")
    expect_valid_model(model)
    kinds = {o.name: o.type.WhichOneof("value") for o in model.graph.output}
    not_tensors = [name for name, kind in kinds.items() if kind != "tensor_type"]
    expect(
        not not_tensors,
        f"output {not_tensors[0] if not_tensors else ''} is not a tensor but a ZipMap (a list of dicts)",
        expected="two tensors: labels (N,) and probabilities (N, 10)",
        got=", ".join(f"{n}: {k}" for n, k in kinds.items()),
        hint="convert with options={'zipmap': False}",
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
        got=str(parity).splitlines()[0] + "; " + "; ".join(parity.notes or ()),
        hint="convert the same fitted estimator you pass here",
    )
    return f"tensor outputs {list(actual)}; labels equal and probabilities within tolerance on 360 digits"


forest = Exercise(
    "03.3",
    "Convert a random forest with plain tensor outputs",
    _check_forest,
    hints=[
        "skl2onnx wraps a classifier's probabilities in a ZipMap (one dict per row) unless you ask otherwise.",
        "`to_onnx(rf, X_train[:1], options={'zipmap': False})` gives the probabilities as a (N, 10) tensor.",
    ],
    solution_code="""
rf_onnx = to_onnx(rf, X_train[:1], options={"zipmap": False})
lesson03.forest.check(rf_onnx, rf)
""",
)


# ------------------------------------------------------------------------------------------ 03.4


def _toy_session(dtype: int, name: str) -> ort.InferenceSession:
    helper = onnx.helper
    x = helper.make_tensor_value_info(name, dtype, ["N", 3])
    y = helper.make_tensor_value_info("y", dtype, ["N", 3])
    graph = helper.make_graph([helper.make_node("Identity", [name], ["y"])], "toy", [x], [y])
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
            got=list(feed_dict) if isinstance(feed_dict, Mapping) else type(feed_dict).__name__,
            hint="session.get_inputs()[0].name",
        )
        value = np.asarray(feed_dict[name])
        want = numpy_dtype(session.get_inputs()[0].type)
        expect(
            value.dtype == want,
            f"wrong dtype for {why}",
            expected=str(want),
            got=str(value.dtype),
            hint="session.get_inputs()[0].type is a string like 'tensor(float)'; "
            "course_utils.runtime.numpy_dtype turns it into a numpy dtype",
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
        "Ask the session: `session.get_inputs()[0]` has `.name` and `.type` ('tensor(float)', 'tensor(double)', ...).",
        "`numpy_dtype(inp.type)` (from course_utils.runtime) gives the numpy dtype; return "
        "`{inp.name: x.astype(that_dtype)}`.",
    ],
    solution_code="""
def make_feed(session, x):
    inp = session.get_inputs()[0]
    return {inp.name: np.asarray(x).astype(numpy_dtype(inp.type))}

lesson03.feed.check(make_feed)
""",
)
