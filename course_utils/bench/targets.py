"""What to benchmark: an .onnx file or a course model by name, its feed, framework model and FLOPs."""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from course_utils.errors import CourseError

__all__ = [
    "COURSE_MODELS",
    "BenchTarget",
    "Needs",
    "UnknownModelError",
    "course_model_onnx",
    "export_course_model",
    "load_target",
]

Needs = Literal["onnx", "torch", "keras"]
#: Course models the CLI and :func:`load_target` know by name.
COURSE_MODELS: tuple[str, ...] = ("digits_cnn", "resnet18", "keras_cnn", "efficientnet_lite0")


class UnknownModelError(CourseError, ValueError):
    """A model argument that is neither an .onnx file nor a course model name."""


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


def _artifact(name: str) -> Path:
    from course_utils.paths import artifact_path

    return artifact_path(name, lesson="06")


def _export_torch(module: Any, example: Any, path: Path) -> None:
    import torch

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # Legacy exporter without constant folding: BatchNormalization stays in the graph, as a trained model
        # straight from a framework has it, so the optimization levels have something to fold.
        torch.onnx.export(
            module,
            (example,),
            str(path),
            dynamo=False,
            do_constant_folding=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        )


def export_course_model(name: str, path: Path) -> Path:
    """Write course model ``name`` (one of :data:`COURSE_MODELS`) to ``path`` as ONNX, batch dynamic, and return
    ``path``: the PyTorch models with the legacy exporter (BatchNormalization kept, PyTorch's weight names), the
    Keras CNN with tf2onnx; ``efficientnet_lite0`` (ImageNet-pretrained, lesson 07) with
    :func:`course_utils.models.efficientnet.export_onnx` (batch norm already folded, TensorFlow-style padding inside
    the ``Conv``). The one export every lesson's tools share (bench, the provider switcher, the tests)."""
    if name == "digits_cnn":
        import torch

        from course_utils.models.data import load_digits_cnn

        _export_torch(load_digits_cnn(), torch.zeros(1, 1, 8, 8), path)
    elif name == "resnet18":
        import torch

        from course_utils.models.nets import resnet18

        _export_torch(resnet18(), torch.zeros(1, 3, 224, 224), path)
    elif name == "keras_cnn":
        from course_utils.bench.tf_engine import convert_keras_in_child  # TensorFlow stays out of this process

        convert_keras_in_child(path)
    elif name == "efficientnet_lite0":
        from course_utils.models.efficientnet import export_onnx

        export_onnx(path)
    else:
        raise UnknownModelError(f"'{name}' is not a course model; use one of {', '.join(COURSE_MODELS)}")
    return path


def course_model_onnx(name: str) -> Path:
    """Export (once) a course model to ``artifacts/06/<name>.onnx`` with a dynamic batch, and return its path."""
    path = _artifact(f"{name}.onnx")
    if path.exists():
        return path
    return export_course_model(name, path)


def _concrete_feed(onnx_path: Path, batch: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random inputs for every graph input, symbolic dimensions set to ``batch`` (first) or 1 (others)."""
    import onnx

    from course_utils.onnxfile.modelio import load_model

    model = load_model(onnx_path, load_external_data=False)  # one-line errors for a broken file
    initializers = {t.name for t in model.graph.initializer}
    rng = np.random.default_rng(seed)
    feed: dict[str, np.ndarray] = {}
    for value in model.graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dims = [
            d.dim_value if d.HasField("dim_value") else (batch if i == 0 else 1) for i, d in enumerate(tensor.shape.dim)
        ]
        dtype = onnx.helper.tensor_dtype_to_np_dtype(tensor.elem_type)
        if np.issubdtype(dtype, np.floating):
            feed[value.name] = rng.random(dims, dtype=np.float32).astype(dtype)
        else:
            feed[value.name] = np.zeros(dims, dtype=dtype)
    return feed


def load_target(model: str | os.PathLike[str], batch: int = 1) -> BenchTarget:
    """A :class:`BenchTarget` for an ``.onnx`` path or a course model name (``digits_cnn``, ``resnet18``,
    ``keras_cnn``, ``efficientnet_lite0``; exported once to ``artifacts/06/``, with the framework model for the
    baselines).

    Raises :class:`UnknownModelError` for anything else, with the names that work.
    """
    from course_utils.onnxfile.flops import count_flops

    if batch < 1:
        raise ValueError(f"batch must be at least 1, got {batch}")
    name = str(model)
    framework: Any = None
    kind: Needs = "onnx"
    if name in COURSE_MODELS:
        path = course_model_onnx(name)
        if name == "digits_cnn":
            from course_utils.models.data import load_digits_cnn

            framework, kind = load_digits_cnn(), "torch"
        elif name == "resnet18":
            from course_utils.models.nets import resnet18

            framework, kind = resnet18(), "torch"
        elif name == "efficientnet_lite0":
            from course_utils.models.efficientnet import load_efficientnet_lite0

            framework, kind = load_efficientnet_lite0(), "torch"
        else:
            from course_utils.models.data import KERAS_MODEL_FILE
            from course_utils.paths import data_path

            framework, kind = data_path(KERAS_MODEL_FILE), "keras"  # loaded by the tf-function engine's process
    else:
        path = Path(name)
        if path.suffix != ".onnx" or not path.is_file():
            what = "does not exist" if not path.exists() else "is not an .onnx file"
            raise UnknownModelError(
                f"'{name}' {what}. Pass the path of an .onnx file or a course model name: {', '.join(COURSE_MODELS)}."
            )
        name = path.stem
    feed = _concrete_feed(path, batch)
    # The course models' ONNX inputs match their frameworks' (NCHW for torch, NHWC for Keras): one array for both.
    framework_input = next(iter(feed.values())) if kind != "onnx" else None
    flops = count_flops(path, batch=batch).total
    return BenchTarget(name, path, feed, batch, flops, framework, kind, framework_input)
