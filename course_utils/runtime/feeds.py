"""Example inputs for any model: one function, one rule, used by the benchmark, the provider switcher and the
opset explorer.

The rule for a dimension the model does not fix (symbolic, such as ``batch``, or unknown): the first is the
batch size you ask for, every other one is 1. Values are seeded, so the same call gives the same arrays on every
machine: floats from a standard normal distribution, integers from 0 to 2, booleans ``True``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import onnx
import onnxruntime as ort

from course_utils.errors import InputMismatchError
from course_utils.onnxfile.graph import graph_inputs
from course_utils.onnxfile.graph import shape as graph_shape
from course_utils.onnxfile.modelio import ModelSource, load_model
from course_utils.runtime.run import numpy_dtype

__all__ = ["concrete_shape", "example_feed", "example_value"]


def concrete_shape(dims: Any, batch: int = 1) -> list[int]:
    """The shape an example input gets: fixed dimensions as declared; a symbolic or unknown one becomes ``batch``
    when it is the first, 1 otherwise. ``dims`` as ONNX Runtime lists them (ints, names, None) or as
    :func:`course_utils.onnxfile.graph.shape` returns them."""
    return [d if isinstance(d, int) and d > 0 else (batch if i == 0 else 1) for i, d in enumerate(dims or ())]


def example_value(shape: list[int], dtype: np.dtype[Any], rng: np.random.Generator) -> np.ndarray:
    """One example array: standard normal floats, integers 0..2, ``True`` for booleans."""
    if np.issubdtype(dtype, np.floating):
        return rng.standard_normal(shape).astype(dtype)
    if dtype == np.bool_:
        return np.ones(shape, dtype)
    return rng.integers(0, 3, shape).astype(dtype)


def example_feed(model: ModelSource | ort.InferenceSession, batch: int = 1, seed: int = 0) -> dict[str, np.ndarray]:
    """``{input name: array}`` for every input a caller feeds to ``model`` (a path, bytes, ``onnx.ModelProto`` or
    an ``onnxruntime.InferenceSession``), seeded by ``seed``, with the module's rule for unfixed dimensions.

    Raises :class:`~course_utils.errors.InputMismatchError` for an input with no numpy type (strings,
    sequences, maps): pass those inputs yourself."""
    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    declared: list[tuple[str, Any, np.dtype[Any] | None, str]] = []
    if isinstance(model, ort.InferenceSession):
        for arg in model.get_inputs():
            declared.append((arg.name, arg.shape, numpy_dtype(arg.type), arg.type))
    else:
        proto = load_model(model, load_external_data=False)  # one-line errors for a broken file
        for value in graph_inputs(proto.graph):
            elem = value.type.tensor_type.elem_type if value.type.HasField("tensor_type") else 0
            dtype = np.dtype(onnx.helper.tensor_dtype_to_np_dtype(elem)) if elem else None
            kind = value.type.WhichOneof("value") or "unknown"
            declared.append((value.name, graph_shape(value.type), None if dtype == np.object_ else dtype, kind))
    rng = np.random.default_rng(seed)
    feed: dict[str, np.ndarray] = {}
    for name, dims, dtype, kind in declared:
        if dtype is None:
            raise InputMismatchError(
                f"Input '{name}' is {kind}, which has no example array: pass inputs={{...}} yourself."
            )
        feed[name] = example_value(concrete_shape(dims, batch), dtype, rng)
    return feed
