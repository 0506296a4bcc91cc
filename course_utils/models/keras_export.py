"""The course's Keras CNN to ONNX with tf2onnx, in a spawned child process, so the caller never imports
TensorFlow (several hundred MB, and thread pools fixed at start). The registry's exporter for ``keras_cnn``."""

from __future__ import annotations

import logging
import multiprocessing
import os
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

__all__ = ["convert_keras_in_child"]


def _convert_keras(path: Path, opset: int) -> None:
    """The course's Keras CNN to ONNX with tf2onnx (input ``image``, batch dynamic)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import tensorflow as tf
    import tf2onnx

    from course_utils.models.data import load_digits_keras

    logging.getLogger("tf2onnx").setLevel(logging.ERROR)  # converter progress chatter, not errors
    model = load_digits_keras()
    spec = (tf.TensorSpec((None, 8, 8, 1), tf.float32, name="image"),)

    @tf.function(input_signature=spec)  # type: ignore[untyped-decorator]  # TensorFlow ships no type information
    def serve(image: Any) -> Any:
        return {"probabilities": model(image, training=False)}

    tf2onnx.convert.from_function(serve, input_signature=spec, opset=opset, output_path=str(path))


def _convert(conn: Connection, path: str, opset: int) -> None:
    from course_utils.errors import first_line

    try:
        _convert_keras(Path(path), opset)
        conn.send(None)
    except BaseException as error:
        conn.send(f"{type(error).__name__}: {first_line(error)}")


def convert_keras_in_child(path: Path, opset: int = 17) -> Path:
    """Convert the course's Keras CNN to ONNX at ``path`` with tf2onnx (at ``opset``), in a spawned child process
    (so the caller never imports TensorFlow); returns ``path``. Raises ``RuntimeError`` with the child's error."""
    context = multiprocessing.get_context("spawn")
    parent_conn, child_conn = context.Pipe()
    process = context.Process(target=_convert, args=(child_conn, str(path), opset))
    process.start()
    child_conn.close()
    try:
        error = parent_conn.recv()
    except EOFError:
        error = f"the conversion process ended unexpectedly (exit code {process.exitcode})"
    process.join()
    parent_conn.close()
    if error is not None:
        raise RuntimeError(f"converting the Keras model with tf2onnx failed: {error}")
    return path
