"""One-line explanations of the tf2onnx failures learners meet most, starting with Keras 3's.

``tf2onnx.convert.from_keras`` was written for Keras 2 (``tf.keras``). Given many Keras 3 models (Sequential
ones such as the course's digits CNN, for example) it fails deep inside tf2onnx with a bare
``KeyError: 'keras_tensor_14'`` (tf2onnx issues #2329, #2348, #2448), which says nothing about the cause. Wrap
the call to see what went wrong and which route works instead:

    >>> from course_utils.models.tf_convert import explain_convert_errors
    >>> with explain_convert_errors():
    ...     tf2onnx.convert.from_keras(keras_model, input_signature=spec, opset=17)
    ExportFailedError: tf2onnx.convert.from_keras cannot convert a Keras 3 model: KeyError: 'keras_tensor_14' ...

Errors this module does not recognise are re-raised unchanged. TensorFlow is not imported here.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from course_utils.errors import ExportFailedError

__all__ = ["explain_convert_errors", "is_keras3_error", "summarize_convert_error"]

_KERAS3_FIX = (
    "convert with tf2onnx.convert.from_function on a tf.function that calls the model, with the command line "
    "`python -m tf2onnx.convert --saved-model DIR` on a SavedModel, or with Keras' own "
    'model.export(path, format="onnx")'
)


def is_keras3_error(error: BaseException) -> bool:
    """Whether ``error`` is tf2onnx failing to find a Keras 3 tensor name (``KeyError: 'keras_tensor_…'``)."""
    return isinstance(error, KeyError) and any(str(arg).startswith("keras_tensor") for arg in error.args)


def summarize_convert_error(error: BaseException) -> str | None:
    """One line with the cause and the fix for a tf2onnx failure this module knows, else ``None``."""
    if is_keras3_error(error):
        return (
            f"tf2onnx.convert.from_keras cannot convert a Keras 3 model: KeyError: {error.args[0]!r} is the name "
            "of a Keras 3 tensor, which does not exist in the TensorFlow graph tf2onnx traced (tf2onnx #2329). "
            f"Fix: {_KERAS3_FIX}."
        )
    return None


@contextlib.contextmanager
def explain_convert_errors() -> Iterator[None]:
    """Turn a known tf2onnx failure inside the ``with`` block into a one-line :class:`ExportFailedError`.

    The original exception stays available as ``.original``; other errors pass through unchanged.
    """
    try:
        yield
    except Exception as error:
        summary = summarize_convert_error(error)
        if summary is None:
            raise
        failure = ExportFailedError(summary)
        failure.original = error  # type: ignore[attr-defined]
        raise failure from None
