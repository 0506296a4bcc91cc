"""course_utils.models.tf_convert: tf2onnx's Keras 3 failure becomes one line with the fix; other errors pass through."""

from __future__ import annotations

import os

import pytest

from course_utils.errors import CourseError, ExportFailedError
from course_utils.models.tf_convert import explain_convert_errors, is_keras3_error, summarize_convert_error


def test_keras3_key_error_is_recognised():
    assert is_keras3_error(KeyError("keras_tensor_14"))
    assert not is_keras3_error(KeyError("image"))
    assert not is_keras3_error(ValueError("keras_tensor_14"))  # only tf2onnx's failed lookup, a KeyError


def test_summary_names_the_cause_and_every_working_route():
    summary = summarize_convert_error(KeyError("keras_tensor_3"))
    assert summary is not None and "\n" not in summary
    assert "KeyError: 'keras_tensor_3'" in summary and "Keras 3" in summary
    for route in ("from_function", "--saved-model", 'format="onnx"'):
        assert route in summary
    assert summarize_convert_error(RuntimeError("something else")) is None


def test_known_failure_becomes_one_line_export_error():
    original = KeyError("keras_tensor_7")
    with pytest.raises(ExportFailedError, match="cannot convert a Keras 3 model") as caught, explain_convert_errors():
        raise original
    assert isinstance(caught.value, CourseError)
    assert caught.value.original is original
    assert caught.value.__suppress_context__  # the deep tf2onnx traceback is not chained into the message


def test_other_errors_pass_through_unchanged():
    error = KeyError("image")
    with pytest.raises(KeyError) as caught, explain_convert_errors():
        raise error
    assert caught.value is error


def test_no_error_no_change():
    with explain_convert_errors():
        value = 1 + 1
    assert value == 2


def test_real_from_keras_on_a_keras3_model_is_explained():
    # The failure this module exists for, reproduced with the installed tf2onnx and Keras.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    tf = pytest.importorskip("tensorflow")
    keras = pytest.importorskip("keras")
    tf2onnx = pytest.importorskip("tf2onnx")
    if not keras.__version__.startswith("3"):
        pytest.skip("the failure is specific to Keras 3")
    # A Sequential model, like the course's digits CNN (some functional models happen to convert).
    model = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(3), keras.layers.Dense(2)])
    spec = (tf.TensorSpec((None, 4), tf.float32, name="x"),)
    expected = r"KeyError: 'keras_tensor_\d+'.*Fix: convert with"
    with pytest.raises(ExportFailedError, match=expected), explain_convert_errors():
        tf2onnx.convert.from_keras(model, input_signature=spec, opset=17)
