"""TensorFlow for :mod:`course_utils.bench`, in a child process: the ``tf-function`` engine and the Keras export.

Why a child process (``multiprocessing`` with ``spawn``):

* Memory. TensorFlow adds several hundred MB to the process that imports it, and the lesson that compares
  engines (06) already holds PyTorch and ONNX Runtime. Loaded in a child, TensorFlow's memory is returned to the
  system when the engine is closed, and the notebook's kernel never holds the three frameworks at once.
* Threads. TensorFlow fixes its thread pools when it starts: ``tf.config.threading.set_intra_op_parallelism_threads``
  raises ``RuntimeError`` once TensorFlow has run anything. A fresh child sets them first, so the ``threads``
  a benchmark row reports are the threads TensorFlow used (the row's ``tf_intra_op_threads`` column reads them
  back from TensorFlow).

The child times its own runs with :func:`course_utils.bench.measure` (a call across processes costs tens of
microseconds, more than a small model's run): :class:`TFFunctionProcess` is a :class:`course_utils.bench.Prepared`
whose ``measure`` runs there and sends the samples (and progress) back.

``spawn`` starts a fresh interpreter that imports the caller's main module again: notebooks, pytest and
``python -m course_utils.bench`` are fine; a script of your own that benchmarks ``tf-function`` needs the usual
``if __name__ == "__main__":`` guard around its top-level code.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import shutil
import tempfile
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from course_utils.models.keras_export import convert_keras_in_child  # its home now; importable from here too

if TYPE_CHECKING:
    from course_utils.bench.harness import Timings

__all__ = ["TFFunctionProcess", "convert_keras_in_child"]

_START_TIMEOUT_S = 300  # importing TensorFlow and tracing the function on a busy machine


def _first_line(error: BaseException) -> str:
    from course_utils.errors import first_line

    return f"{type(error).__name__}: {first_line(error)}"


def _serve(conn: Connection, model_file: str, x: np.ndarray, threads: int) -> None:
    """The child: set TensorFlow's threads before it starts, load the Keras model, then answer requests."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import tensorflow as tf

        tf.config.threading.set_intra_op_parallelism_threads(threads)  # before TensorFlow runs anything
        tf.config.threading.set_inter_op_parallelism_threads(1)
        import keras

        model = keras.saving.load_model(model_file)
        tensor = tf.constant(x)

        @tf.function  # type: ignore[untyped-decorator]  # TensorFlow ships no type information
        def serve(image: Any) -> Any:
            return model(image, training=False)

        def run() -> object:
            return serve(tensor).numpy()

        run()  # traces the function: the first call is no inference
        conn.send(("ready", {"tf_intra_op_threads": int(tf.config.threading.get_intra_op_parallelism_threads())}))
    except BaseException as error:  # whatever TensorFlow raises goes back as one line
        conn.send(("error", _first_line(error)))
        return
    from course_utils.bench.harness import measure

    while True:
        try:
            request, options = conn.recv()
        except EOFError:  # the parent went away
            return
        try:
            if request == "close":
                return
            if request == "run":
                run()
                conn.send(("done", None))
            elif request == "measure":

                def progress(samples: Sequence[float], fraction: float) -> None:
                    conn.send(("progress", (list(samples), fraction)))

                wants_progress = options.pop("progress")
                conn.send(("done", measure(run, on_progress=progress if wants_progress else None, **options)))
        except Exception as error:  # a failed run is reported to the parent, which raises it
            conn.send(("error", _first_line(error)))


class TFFunctionProcess:
    """A Keras model in a ``tf.function``, running in a spawned child process with ``threads`` intra-op threads.

    ``run()`` runs it once (across the process boundary); ``measure(**options)`` is
    :func:`course_utils.bench.measure` done in the child, progress forwarded; ``close()`` ends the child.
    ``extra`` holds what the child read back from TensorFlow (``tf_intra_op_threads``).
    """

    def __init__(self, model: Any, x: np.ndarray, threads: int) -> None:
        self._folder: str | None = None
        if isinstance(model, str | os.PathLike):
            model_file = str(model)
        else:  # a Keras model object: the child loads a saved copy
            self._folder = tempfile.mkdtemp(prefix="course-tf-")
            model_file = str(Path(self._folder) / "model.keras")
            model.save(model_file)
        context = multiprocessing.get_context("spawn")  # a fresh interpreter: no TensorFlow state inherited
        self._conn, child_conn = context.Pipe()
        self._process = context.Process(
            target=_serve, args=(child_conn, model_file, np.ascontiguousarray(x), threads), daemon=True
        )
        self._process.start()
        child_conn.close()
        if not self._conn.poll(_START_TIMEOUT_S):
            self.close()
            raise RuntimeError(f"tf-function: TensorFlow did not start within {_START_TIMEOUT_S} s")
        _, self.extra = self._receive()

    def _receive(self) -> tuple[str, Any]:
        try:
            kind, payload = self._conn.recv()
        except EOFError:
            self.close()
            raise RuntimeError(
                f"tf-function: the TensorFlow process ended unexpectedly (exit code {self._process.exitcode})"
            ) from None
        if kind == "error":
            self.close()
            raise RuntimeError(f"tf-function: TensorFlow failed: {payload}")
        return kind, payload

    def run(self) -> object:
        """Run the model once in the child (includes the round trip: time with :meth:`measure` instead)."""
        self._conn.send(("run", None))
        return self._receive()[1]

    def measure(
        self, *, on_progress: Callable[[Sequence[float], float], None] | None = None, **options: Any
    ) -> Timings:
        """:func:`course_utils.bench.measure` of the model's run, done in the child; same options."""
        self._conn.send(("measure", {**options, "progress": on_progress is not None}))
        while True:
            kind, payload = self._receive()
            if kind != "progress":
                timings: Timings = payload
                return timings
            if on_progress is not None:
                on_progress(*payload)

    def close(self) -> None:
        """End the child process (TensorFlow's memory goes with it) and remove a saved model copy."""
        if self._process.is_alive():
            with contextlib.suppress(BrokenPipeError, OSError):  # the child may be gone already
                self._conn.send(("close", None))
            self._process.join(timeout=10)
            if self._process.is_alive():
                self._process.terminate()
                self._process.join(timeout=5)
        self._conn.close()
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None
