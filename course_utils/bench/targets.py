"""What to benchmark: an .onnx file or a course model by name, its feed, framework model and FLOPs."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from course_utils.errors import UnknownModelError
from course_utils.models import registry

__all__ = [
    "BenchTarget",
    "Needs",
    "UnknownModelError",
    "course_model_onnx",
    "course_models",
    "export_course_model",
    "load_target",
]

Needs = Literal["onnx", "torch", "keras"]


def course_models() -> tuple[str, ...]:
    """The course models the CLI and :func:`load_target` know by name (the registry's benchmark models)."""
    return registry.benchmark_models()


# ------------------------------------------------------------------------------------------- targets


@dataclass(frozen=True)
class BenchTarget:
    """A model ready to benchmark at one batch size.

    ``onnx_path``: the ONNX file every ONNX engine loads; ``feed``: ``{input name: array}`` at ``batch``;
    ``framework``: the source model (a torch ``nn.Module`` or a Keras model) or ``None``; ``framework_input``:
    the array the framework model takes (NHWC for Keras); ``flops``: FLOPs of one run at ``batch``.
    """

    name: str
    onnx_path: Path
    feed: Mapping[str, np.ndarray]
    batch: int
    flops: int
    framework: Any = None
    framework_kind: Needs = "onnx"
    framework_input: np.ndarray | None = None

    def has(self, needs: Needs) -> bool:
        """Whether this target can feed an engine that ``needs`` an ONNX file, a torch or a Keras model."""
        return needs == "onnx" or self.framework_kind == needs


def export_course_model(name: str, path: Path) -> Path:
    """Write course model ``name`` to ``path`` as ONNX with its registered export options and return ``path``
    (:func:`course_utils.models.registry.export`)."""
    return registry.export(name, path)


def course_model_onnx(name: str) -> Path:
    """The course model's exported file (once, cached by the registry under ``artifacts/models/``)."""
    return registry.onnx_path(name)


def load_target(model: str | os.PathLike[str], batch: int = 1) -> BenchTarget:
    """A :class:`BenchTarget` for an ``.onnx`` path or a course model name (``digits_cnn``, ``resnet18``,
    ``keras_cnn``, any model of :mod:`course_utils.models.registry`; exported once, with the framework model
    for the baselines). Inputs are :func:`course_utils.runtime.feeds.example_feed` at ``batch``.

    Raises :class:`UnknownModelError` for anything else, with the names that work.
    """
    from course_utils.onnxfile.flops import count_flops

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    name = str(model)
    framework: Any = None
    kind: Needs = "onnx"
    if name in registry.MODELS:
        spec = registry.get(name)
        path = registry.onnx_path(name)
        framework, kind = spec.build(), spec.framework
    else:
        path = Path(name)
        if path.suffix != ".onnx" or not path.is_file():
            what = "does not exist" if not path.exists() else "is not an .onnx file"
            raise UnknownModelError(
                f"'{name}' {what}. Pass the path of an .onnx file or a course model name: {', '.join(course_models())}."
            )
        name = path.stem
    from course_utils.runtime.feeds import example_feed  # ONNX Runtime loads with it: not for --help

    feed = example_feed(path, batch)
    # The course models' ONNX inputs match their frameworks' (NCHW for torch, NHWC for Keras): one array for both.
    framework_input = next(iter(feed.values())) if kind != "onnx" else None
    flops = count_flops(path, batch=batch).total
    return BenchTarget(name, path, feed, batch, flops, framework, kind, framework_input)
