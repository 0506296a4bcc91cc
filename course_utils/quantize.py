"""Quantization that actually speeds things up: build each int8 variant of a model, and report what ONNX Runtime
makes of it (which nodes are fused), how big it is, how accurate it stays and how fast it runs.

The calls a learner already knows from lesson 07 (``quant_pre_process``, ``quantize_dynamic``,
``quantize_static`` with a ``CalibrationDataReader``, ``ort.InferenceSession``), plus:

* :class:`ImageCalibrationReader` feeds a fixed set of images to ``quantize_static`` in batches;
  :func:`digits_reader` (the course's digits) and :func:`photo_crops` (224x224 crops of the two photos
  scikit-learn ships, the fixed image set for ResNet-18) give the data;
* :func:`prepare_model` exports a course model (``"digits_cnn"`` or ``"resnet18"``) once and runs
  ``quant_pre_process`` on it; :func:`quantize` builds one :class:`QuantConfig` variant (cached under
  ``artifacts/07/``);
* :func:`op_counts` counts the operators in a file, :func:`runtime_ops` in the graph ONNX Runtime actually runs
  (after its QDQ fusions), and :func:`fusion` summarises the convolutions: how many run as ``QLinearConv``;
* :func:`accuracy`, :func:`agreement`, :func:`time_p50`, :func:`profile_by_op` and :func:`sensitivity`
  (``qdq_loss_debug``'s signal-to-quantization-noise ratio per tensor) measure a variant;
* :func:`compare` does all of it for every variant and returns a :class:`QuantReport` (one ``_rows()`` source
  for the text table, the HTML table and JSON); :func:`plot_tradeoff` draws latency vs accuracy;
* ``python -m course_utils.quantize resnet18`` prints the table from a terminal.

Speed is measured and printed, never asserted. Structural facts (fusion counts at a stated
``session.qdqisint8allowed`` setting, file sizes, rounded accuracies) are the same on every x86 or Arm CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import html
import json
import os
import sys
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import onnx
from onnxruntime.quantization import CalibrationDataReader

from .bench import measure, ort_session_options
from .errors import CourseError
from .paths import artifact_path, relative_to_repo

if TYPE_CHECKING:
    import onnxruntime as ort
    from matplotlib.figure import Figure

__all__ = [
    "CONFIGS",
    "LESSON",
    "TUNED",
    "CalibrationInputError",
    "Fusion",
    "ImageCalibrationReader",
    "QuantConfig",
    "QuantReport",
    "UnknownConfigError",
    "VariantResult",
    "accuracy",
    "agreement",
    "compare",
    "course_torch_model",
    "digits_reader",
    "fusion",
    "get_config",
    "main",
    "op_counts",
    "photo_crops",
    "plot_tradeoff",
    "predict",
    "prepare_model",
    "profile_by_op",
    "quantize",
    "quiet",
    "register_bench_engines",
    "runtime_model",
    "runtime_ops",
    "sensitivity",
    "time_p50",
    "torch_p50",
]

LESSON = "07"
CourseModel = Literal["digits_cnn", "resnet18"]
INPUT_NAME = "image"
# ImageNet's per-channel mean and standard deviation: how torchvision-style models expect photos normalised.
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Which crops calibrate and which evaluate: disjoint seeds, so agreement is measured on images calibration never saw.
CALIBRATION_SEED, EVALUATION_SEED, BATCHNORM_SEED = 1, 2, 3


class CalibrationInputError(CourseError, ValueError):
    """A calibration reader yields batches the model cannot take (wrong input name, dtype or shape)."""


class UnknownConfigError(CourseError, KeyError):
    """A variant name that is not one of :data:`CONFIGS`."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


# ----------------------------------------------------------------------------------------------- data


def photo_crops(n: int, seed: int, size: int = 224) -> np.ndarray:
    """``n`` crops of ``size`` x ``size`` from the two photos scikit-learn ships (a temple in China, a flower),
    randomly placed and mirrored with ``seed``, normalised as ImageNet models expect: ``(n, 3, size, size)``
    float32. Real photos, offline, the same on every machine."""
    from sklearn.datasets import load_sample_images

    photos = load_sample_images().images
    rng = np.random.default_rng(seed)
    crops = []
    for k in range(n):
        photo = photos[k % len(photos)]
        top = int(rng.integers(0, photo.shape[0] - size + 1))
        left = int(rng.integers(0, photo.shape[1] - size + 1))
        crop = photo[top : top + size, left : left + size].astype(np.float32) / 255.0
        if rng.random() < 0.5:
            crop = crop[:, ::-1]
        crops.append(((crop - _MEAN) / _STD).transpose(2, 0, 1))
    return np.ascontiguousarray(np.stack(crops), dtype=np.float32)


class ImageCalibrationReader(CalibrationDataReader):
    """A ``CalibrationDataReader`` over a fixed array of images: ``get_next()`` returns ``{input_name: batch}``
    until the images run out, then ``None``; ``rewind()`` starts again (``quantize_static`` reads it once)."""

    def __init__(self, images: np.ndarray, input_name: str = INPUT_NAME, batch_size: int = 32) -> None:
        images = np.asarray(images)
        if images.dtype != np.float32:
            raise CalibrationInputError(
                f"calibration images are {images.dtype}; the model takes float32: pass images.astype(np.float32)"
            )
        if images.ndim != 4 or len(images) == 0:
            raise CalibrationInputError(
                f"calibration images must be a non-empty (N, C, H, W) array, got {images.shape}"
            )
        self.images = images
        self.input_name = input_name
        self.batch_size = max(1, int(batch_size))
        self._batches: Iterator[np.ndarray] = iter(())
        self.rewind()

    def get_next(self) -> dict[str, np.ndarray] | None:
        """The next batch as ``{input name: images}``, or ``None`` when every image was returned."""
        batch = next(self._batches, None)
        return None if batch is None else {self.input_name: batch}

    def rewind(self) -> None:
        """Start again from the first batch."""
        self._batches = iter(
            [self.images[i : i + self.batch_size] for i in range(0, len(self.images), self.batch_size)]
        )

    def __len__(self) -> int:
        return -(-len(self.images) // self.batch_size)

    def __repr__(self) -> str:
        return (
            f"ImageCalibrationReader({len(self.images)} images {tuple(self.images.shape[1:])} as "
            f"'{self.input_name}', batches of {self.batch_size})"
        )


def digits_reader(n: int = 128, batch_size: int = 32, input_name: str = INPUT_NAME) -> ImageCalibrationReader:
    """The first ``n`` training digits (never the test split, which measures accuracy), in batches."""
    from .data import load_digits

    return ImageCalibrationReader(load_digits().x_train[:n], input_name, batch_size)


def _reader_for(model: CourseModel) -> Callable[[], ImageCalibrationReader]:
    if model == "digits_cnn":
        return digits_reader
    return lambda: ImageCalibrationReader(photo_crops(16, CALIBRATION_SEED), INPUT_NAME, batch_size=1)


# --------------------------------------------------------------------------------------------- models


def _calibrated_resnet18() -> Any:
    """ResNet-18 with seeded random weights whose batch-norm statistics come from photo crops.

    Random weights with default statistics (mean 0, variance 1) make the network nearly constant: 2 classes
    for 48 photos. Recomputing the statistics on real images gives every layer realistic ranges (what
    calibration is about) and varied predictions, as a trained network has."""
    import torch

    from .models import resnet18

    model = resnet18(seed=0)
    for module in model.modules():
        if isinstance(module, torch.nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average over the batch
    model.train()
    with torch.no_grad():
        model(torch.from_numpy(photo_crops(32, BATCHNORM_SEED)))
    return model.eval()


def course_torch_model(model: CourseModel) -> Any:
    """The PyTorch module behind a course model: the trained DigitsCNN, or the calibrated ResNet-18."""
    if model == "digits_cnn":
        from .data import load_digits_cnn

        return load_digits_cnn()
    if model == "resnet18":
        return _calibrated_resnet18()
    raise UnknownConfigError(f"unknown course model '{model}': use 'digits_cnn' or 'resnet18'")


def prepare_model(model: CourseModel, force: bool = False) -> Path:
    """Export a course model (legacy exporter, dynamic batch) and run ``quant_pre_process`` on it, once.

    Returns ``artifacts/07/<model>_pre.onnx``, the fp32 model every variant starts from (batch norm folded
    into the convolutions, shapes inferred)."""
    import torch
    from onnxruntime.quantization import quant_pre_process

    module = course_torch_model(model)
    fp32 = artifact_path(f"{model}.onnx", lesson=LESSON)
    pre = artifact_path(f"{model}_pre.onnx", lesson=LESSON)
    if pre.exists() and not force:
        return pre
    example = torch.zeros(2, 1, 8, 8) if model == "digits_cnn" else torch.from_numpy(photo_crops(1, EVALUATION_SEED))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            module,
            (example,),
            str(fp32),
            dynamo=False,
            opset_version=17,
            input_names=[INPUT_NAME],
            output_names=["logits"],
            dynamic_axes={INPUT_NAME: {0: "batch"}, "logits": {0: "batch"}},
        )
    with quiet():
        quant_pre_process(str(fp32), str(pre))
    return pre


# ------------------------------------------------------------------------------------------- variants


@dataclass(frozen=True)
class QuantConfig:
    """One way to quantize: ``dynamic`` (``quantize_dynamic``) or static (``quantize_static``) with its options.

    ``activations``/``weights`` are ``"S8"`` (``QuantType.QInt8``) or ``"U8"`` (``QuantType.QUInt8``).
    """

    name: str
    description: str
    dynamic: bool = False
    quant_format: Literal["QDQ", "QOperator"] = "QDQ"
    activations: Literal["S8", "U8"] = "S8"
    weights: Literal["S8", "U8"] = "S8"
    per_channel: bool = False
    reduce_range: bool = False
    calibration: Literal["MinMax", "Entropy", "Percentile"] = "MinMax"
    exclude: tuple[str, ...] = ()
    float_ops: tuple[str, ...] = ()  # operator types kept in fp32 (every node of the type joins nodes_to_exclude)

    def kwargs(self, model: onnx.ModelProto | None = None) -> dict[str, Any]:
        """The keyword arguments for ``quantize_static`` (or ``quantize_dynamic``) this config stands for; with
        ``float_ops``, pass the ``model`` so its nodes of those types are named in ``nodes_to_exclude``."""
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType

        types = {"S8": QuantType.QInt8, "U8": QuantType.QUInt8}
        options: dict[str, Any] = {
            "weight_type": types[self.weights],
            "per_channel": self.per_channel,
            "reduce_range": self.reduce_range,
            "nodes_to_exclude": [
                *self.exclude,
                *(n.name for n in (model.graph.node if model is not None else ()) if n.op_type in self.float_ops),
            ],
        }
        if not self.dynamic:
            options |= {
                "quant_format": QuantFormat[self.quant_format],
                "activation_type": types[self.activations],
                "calibrate_method": CalibrationMethod[self.calibration],
            }
        return options

    def key(self) -> str:
        """A short hash of everything that changes the quantized file (the cache key)."""
        # An empty float_ops is left out so the keys (file names) of configs without it stay what they were.
        fields = {
            k: v
            for k, v in asdict(self).items()
            if k not in ("name", "description") and not (k == "float_ops" and not v)
        }
        return hashlib.sha1(json.dumps(fields, sort_keys=True).encode()).hexdigest()[:8]


#: The variants lesson 07 compares, by name (the bench engines are ``ort-`` + name).
CONFIGS: dict[str, QuantConfig] = {
    c.name: c
    for c in (
        QuantConfig(
            "int8-dynamic", "quantize_dynamic, defaults (weights int8, activations quantized at run time)", True
        ),
        QuantConfig("int8-static", "quantize_static, defaults (QDQ, S8 activations, S8 weights, per-tensor, MinMax)"),
        QuantConfig(
            "int8-qdq-u8",
            "quantize_static, QDQ, U8 activations, S8 weights per channel",
            activations="U8",
            per_channel=True,
        ),
    )
}


#: The best ResNet-18 variant with every convolution fused: int8-qdq-u8 with the classifier (``Gemm``) in fp32.
#: The last layer's int8 noise flips the near-tied top-2 logits of the course's random-weight ResNet-18 most;
#: a Gemm is not a convolution, so every convolution stays a ``QLinearConv`` (section 6 of lesson 07).
TUNED: dict[str, QuantConfig] = {
    c.name: c
    for c in (
        QuantConfig(
            "int8-qdq-u8-fc32",
            "int8-qdq-u8 with the classifier (Gemm) kept in fp32",
            activations="U8",
            per_channel=True,
            float_ops=("Gemm",),
        ),
    )
}


def get_config(name: str | QuantConfig) -> QuantConfig:
    """A :class:`QuantConfig` by name (one of :data:`CONFIGS` or :data:`TUNED`), or the config itself."""
    if isinstance(name, QuantConfig):
        return name
    try:
        return {**CONFIGS, **TUNED}[name]
    except KeyError:
        known = ", ".join([*CONFIGS, *TUNED])
        raise UnknownConfigError(f"no quantization variant '{name}': use one of {known}") from None


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """A context manager that silences the quantizer's logging and prints (pre-processing advice, calibration
    progress), so stored notebook outputs hold only what the lesson prints."""
    import logging

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with open(os.devnull, "w") as devnull, contextlib.redirect_stdout(devnull), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            yield
    finally:
        root.setLevel(level)


def _check_reader(model_path: Path, reader: Any) -> None:
    """The reader's first batch matches the model's input (else ORT fails deep inside calibration)."""
    if not hasattr(reader, "get_next"):
        raise CalibrationInputError(
            f"a calibration reader needs a get_next() method (a CalibrationDataReader), got {type(reader).__name__}"
        )
    first = reader.get_next()
    if hasattr(reader, "rewind"):
        reader.rewind()
    model = onnx.load(str(model_path), load_external_data=False)
    inputs = {i.name: i for i in model.graph.input if i.name not in {t.name for t in model.graph.initializer}}
    if not isinstance(first, dict) or not first:
        raise CalibrationInputError(
            f"the calibration reader's first get_next() returned {type(first).__name__}: it must return "
            f"{{input name: array}} dicts, then None at the end"
        )
    for name, value in first.items():
        if name not in inputs:
            raise CalibrationInputError(
                f"the calibration reader yields '{name}' but the model's input is {', '.join(map(repr, inputs))}"
            )
        if np.asarray(value).dtype != np.float32:
            raise CalibrationInputError(
                f"the calibration reader yields {np.asarray(value).dtype}; the model takes float32"
            )
    if not hasattr(reader, "rewind"):
        raise CalibrationInputError("the calibration reader needs a rewind() method so it can be read again")


def quantize(
    model_path: str | os.PathLike[str],
    config: str | QuantConfig,
    reader: Any | None = None,
    out: str | os.PathLike[str] | None = None,
    force: bool = False,
) -> Path:
    """Quantize ``model_path`` (run ``quant_pre_process`` first: :func:`prepare_model` does) with ``config``.

    ``reader`` is a ``CalibrationDataReader`` (static configs need one; a fresh one for a course model's
    prepared file is made when omitted). The result is cached: ``artifacts/07/<model>.<config key>.onnx``
    is rebuilt only when missing or older than the model, or with ``force``."""
    from onnxruntime.quantization import quantize_dynamic, quantize_static

    from .modelio import load_model

    config = get_config(config)
    source = Path(model_path)
    proto = load_model(source, load_external_data=False)  # one-line errors for a missing or broken file
    target = Path(out) if out else artifact_path(f"{source.stem}.{config.key()}.onnx", lesson=LESSON)
    if target.exists() and not force and target.stat().st_mtime >= source.stat().st_mtime:
        return target
    with quiet():
        if config.dynamic:
            quantize_dynamic(str(source), str(target), **config.kwargs(proto))
        else:
            if reader is None:
                stem = source.stem.removesuffix("_pre")
                if stem not in ("digits_cnn", "resnet18"):
                    raise CalibrationInputError("quantize_static needs calibration data: pass reader=...")
                reader = _reader_for(stem)()  # type: ignore[arg-type]
            _check_reader(source, reader)
            quantize_static(str(source), str(target), reader, **config.kwargs(proto))
    return target


# ------------------------------------------------------------------------------------------- graphs


def op_counts(model: str | os.PathLike[str] | onnx.ModelProto) -> dict[str, int]:
    """How many nodes of each operator type a model's graph holds, most frequent first."""
    proto = model if isinstance(model, onnx.ModelProto) else onnx.load(str(model), load_external_data=False)
    return dict(sorted(Counter(n.op_type for n in proto.graph.node).items(), key=lambda kv: (-kv[1], kv[0])))


def _session_options(
    int8_allowed: bool | None, level: str = "all", threads: int = 2, profile_prefix: str | None = None
) -> ort.SessionOptions:
    options = ort_session_options(level, threads)  # lesson 06's options: level, threads, quiet log
    # Idle worker threads spinning would slow whatever runs next (another session, PyTorch): ORT#13808.
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if int8_allowed is not None:
        options.add_session_config_entry("session.qdqisint8allowed", "1" if int8_allowed else "0")
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return options


def runtime_model(model_path: str | os.PathLike[str], int8_allowed: bool | None = None) -> onnx.ModelProto:
    """The graph ONNX Runtime runs: the model after its basic and extended optimizations (QDQ groups fused
    into ``QLinearConv``, ``Conv`` + activation into ``FusedConv``...), as ORT saves it.

    ``int8_allowed`` sets the session config entry ``session.qdqisint8allowed``: whether QDQ groups with
    *signed* int8 activations may be fused. Its default is "0" on x86 and "1" on Arm, so pass True or False
    for a graph that is the same on every CPU (``None`` = this machine's default). Level "extended" is used
    because "all" adds layout changes that depend on the CPU's vector width."""
    import onnxruntime as ort

    with tempfile.TemporaryDirectory() as tmp:
        options = _session_options(int8_allowed, level="extended")
        options.optimized_model_filepath = str(Path(tmp) / "optimized.onnx")
        ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        return onnx.load(options.optimized_model_filepath)


def runtime_ops(model_path: str | os.PathLike[str], int8_allowed: bool | None = None) -> dict[str, int]:
    """Operator counts of :func:`runtime_model` (the graph ONNX Runtime runs), most frequent first."""
    return op_counts(runtime_model(model_path, int8_allowed))


@dataclass(frozen=True)
class Fusion:
    """What the convolutions of a model become at run time."""

    convs: int  # Conv nodes in the fp32 model
    qlinear_conv: int  # fused int8 convolutions (QLinearConv)
    conv_integer: int  # ConvInteger (dynamic quantization): int8 multiply, fp32 around it
    float_conv: int  # Conv/FusedConv still in fp32 (between DequantizeLinear and QuantizeLinear, or never quantized)
    quantize_linear: int
    dequantize_linear: int

    def __str__(self) -> str:
        parts = []
        if self.qlinear_conv:
            parts.append(f"{self.qlinear_conv} of {self.convs} convolutions fused into QLinearConv")
        if self.conv_integer:
            parts.append(f"{self.conv_integer} ConvInteger (int8 multiply, fp32 in and out)")
        if self.float_conv:
            parts.append(f"{self.float_conv} still fp32 Conv")
        parts.append(f"{self.quantize_linear} QuantizeLinear, {self.dequantize_linear} DequantizeLinear left")
        return "; ".join(parts)

    @property
    def all_fused(self) -> bool:
        """Every convolution runs as an int8 ``QLinearConv`` (the structure that makes int8 fast)."""
        return self.convs > 0 and self.qlinear_conv == self.convs


def fusion(model_path: str | os.PathLike[str], convs: int, int8_allowed: bool | None = False) -> Fusion:
    """:class:`Fusion` of a model's run-time graph (:func:`runtime_ops`); ``convs`` is the fp32 model's count."""
    ops = runtime_ops(model_path, int8_allowed)
    return Fusion(
        convs,
        ops.get("QLinearConv", 0),
        ops.get("ConvInteger", 0),
        ops.get("Conv", 0) + ops.get("FusedConv", 0),
        ops.get("QuantizeLinear", 0) + ops.get("DynamicQuantizeLinear", 0),
        ops.get("DequantizeLinear", 0),
    )


# -------------------------------------------------------------------------------------------- measure


def _session(model_path: str | os.PathLike[str], threads: int = 2, int8_allowed: bool | None = None) -> Any:
    import onnxruntime as ort

    return ort.InferenceSession(
        str(model_path), _session_options(int8_allowed, threads=threads), providers=["CPUExecutionProvider"]
    )


def predict(model_path: str | os.PathLike[str], images: np.ndarray, batch_size: int = 64) -> np.ndarray:
    """The model's first output for ``images`` (run in batches on the CPU provider), remembered per (file,
    modification time, images): the lesson asks the same question of a variant more than once."""
    path = Path(model_path)
    key = (str(path.resolve()), path.stat().st_mtime_ns, hashlib.sha1(np.ascontiguousarray(images).data).hexdigest())
    if key not in _PREDICTIONS:
        _PREDICTIONS[key] = _run_batches(path, images, batch_size)
        while len(_PREDICTIONS) > 32:
            _PREDICTIONS.pop(next(iter(_PREDICTIONS)))
    return _PREDICTIONS[key]


_PREDICTIONS: dict[tuple[str, int, str], np.ndarray] = {}


def _run_batches(model_path: Path, images: np.ndarray, batch_size: int) -> np.ndarray:
    session = _session(model_path)
    name = session.get_inputs()[0].name
    return np.concatenate(
        [session.run(None, {name: images[i : i + batch_size]})[0] for i in range(0, len(images), batch_size)]
    )


def accuracy(model_path: str | os.PathLike[str], images: np.ndarray, labels: np.ndarray) -> float:
    """Share of ``images`` whose top-1 class is ``labels``."""
    return float((predict(model_path, images).argmax(1) == labels).mean())


def agreement(model_path: str | os.PathLike[str], reference_path: str | os.PathLike[str], images: np.ndarray) -> float:
    """Share of ``images`` on which ``model_path`` picks the same top-1 class as ``reference_path`` (fp32)."""
    return float((predict(model_path, images).argmax(1) == predict(reference_path, images).argmax(1)).mean())


def _p50(run: Callable[[], Any], budget_s: float) -> float:
    return measure(run, budget_s=budget_s).stats.p50_ms


def time_p50(
    model_path: str | os.PathLike[str],
    feed: np.ndarray,
    budget_s: float = 1.0,
    threads: int = 2,
    int8_allowed: bool | None = None,
) -> float:
    """Median latency in ms of one ``session.run`` on ``feed`` (warm-up first, then runs for ``budget_s``)."""
    session = _session(model_path, threads, int8_allowed)
    name = session.get_inputs()[0].name
    return _p50(lambda: session.run(None, {name: feed}), budget_s)


def torch_p50(module: Any, feed: np.ndarray, budget_s: float = 1.0, threads: int = 2) -> float:
    """Median latency in ms of the PyTorch module in eager mode (``torch.inference_mode``)."""
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    x = torch.from_numpy(feed)
    try:
        with torch.inference_mode():
            return _p50(lambda: module(x), budget_s)
    finally:
        torch.set_num_threads(previous)


def profile_by_op(
    model_path: str | os.PathLike[str], feed: np.ndarray, runs: int = 10, threads: int = 2
) -> dict[str, float]:
    """Where the time goes: kernel time per operator type (ms per run), from ORT's profiler
    (``enable_profiling``, then lesson 06's :func:`course_utils.profiling.read_trace` on the JSON it writes)."""
    import onnxruntime as ort

    from .profiling import read_trace

    with tempfile.TemporaryDirectory() as tmp:
        options = _session_options(None, threads=threads, profile_prefix=str(Path(tmp) / "profile"))
        session = ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
        name = session.get_inputs()[0].name
        for _ in range(runs):
            session.run(None, {name: feed})
        trace = read_trace(session.end_profiling())
    return {op: round(ms / runs, 3) for op, ms in trace.by_op_type().items()}


def sensitivity(
    fp32_path: str | os.PathLike[str], qdq_path: str | os.PathLike[str], reader: Any
) -> list[tuple[str, float, float]]:
    """Which nodes add the most quantization noise, from ``qdq_loss_debug``.

    ``qdq_loss_debug`` runs both models on the reader's data and gives, per quantized activation, the
    signal-to-quantization-noise ratio (SQNR, dB; higher = cleaner) of the QDQ model's tensor against the fp32
    model's. Noise accumulates along the network, so the SQNR only falls; a node matters by how much it makes
    it fall: *added* = SQNR of its noisiest input - SQNR of its output. Returns ``(node, SQNR of its output,
    added dB)``, largest added first: the first nodes to try in ``nodes_to_exclude``."""
    from onnxruntime.quantization.qdq_loss_debug import (
        collect_activations,
        compute_activation_error,
        create_activation_matching,
        modify_model_output_intermediate_tensors,
    )

    with tempfile.TemporaryDirectory() as tmp, quiet():
        fp32_aug, qdq_aug = Path(tmp) / "fp32.onnx", Path(tmp) / "qdq.onnx"
        modify_model_output_intermediate_tensors(str(fp32_path), str(fp32_aug))
        modify_model_output_intermediate_tensors(str(qdq_path), str(qdq_aug))
        reader.rewind()
        float_acts = collect_activations(str(fp32_aug), reader)
        reader.rewind()
        qdq_acts = collect_activations(str(qdq_aug), reader)
    errors = compute_activation_error(create_activation_matching(qdq_acts, float_acts))
    sqnr = {t: e["xmodel_err"] for t, e in errors.items() if "xmodel_err" in e}
    graph = onnx.load(str(fp32_path), load_external_data=False).graph
    producer = {o: n for n in graph.node for o in n.output}
    inputs = {i.name for i in graph.input}

    def upstream(tensor: str, depth: int = 0) -> float:
        """SQNR of the nearest measured tensor feeding ``tensor`` (a graph input is noise-free until quantized)."""
        if tensor in sqnr and depth > 0:
            return sqnr[tensor]
        node = producer.get(tensor)
        if node is None or depth > 8:
            return sqnr.get(tensor, 120.0) if tensor in inputs else 120.0
        return min((upstream(i, depth + 1) for i in node.input if i in producer or i in inputs), default=120.0)

    def quantized_node(tensor: str) -> str:
        """The node nodes_to_exclude needs: a Relu fused into the Conv before it is quantized with that Conv."""
        node = producer[tensor]
        source = producer.get(node.input[0]) if node.op_type in ("Relu", "Clip") and node.input else None
        return source.name if source is not None and source.op_type in ("Conv", "Gemm", "MatMul") else node.name

    ranked = [
        (quantized_node(t), round(value, 2), round(upstream(t) - value, 2))
        for t, value in sqnr.items()
        if t in producer
    ]
    return sorted(ranked, key=lambda item: -item[2])


def _size(nbytes: int) -> str:
    return f"{nbytes / 1e6:.1f} MB" if nbytes >= 1e6 else f"{nbytes / 1e3:.0f} kB"


@dataclass(frozen=True)
class VariantResult:
    """One variant of one model: file, structure, accuracy (digits) or top-1 agreement with fp32 (ResNet-18)."""

    name: str
    description: str
    path: str
    size_bytes: int
    fusion: Fusion | None
    quality: float  # accuracy (digits_cnn) or agreement with fp32 (resnet18), 0..1
    p50_ms: float | None = None


@dataclass(frozen=True)
class QuantReport:
    """Every variant of a model side by side. ``str()``/HTML show the same rows; timings only when measured."""

    model: str
    quality_name: str  # "accuracy" or "top-1 agreement with fp32"
    results: tuple[VariantResult, ...]
    baselines_ms: dict[str, float] = field(default_factory=dict)  # e.g. {"torch-eager": 27.0}

    def _rows(self, timings: bool = True) -> list[list[str]]:
        show_time = timings and any(r.p50_ms is not None for r in self.results)
        header = ["variant", "size", "convolutions at run time", self.quality_name]
        if show_time:
            header += ["p50 ms", *[f"vs {name}" for name in self.baselines_ms]]
        rows = [header]
        for r in self.results:
            row = [r.name, _size(r.size_bytes), str(r.fusion) if r.fusion else "-", f"{r.quality:.1%}"]
            if show_time:
                row.append("-" if r.p50_ms is None else f"{r.p50_ms:.1f}")
                row += ["-" if r.p50_ms is None else f"{ms / r.p50_ms:.1f}x" for ms in self.baselines_ms.values()]
            rows.append(row)
        for name, ms in self.baselines_ms.items() if show_time else ():
            rows.append([name, "-", "-", "-", f"{ms:.1f}", *["1.0x" if n == name else "-" for n in self.baselines_ms]])
        return rows

    def table(self, timings: bool = True) -> str:
        """The rows as aligned text; ``timings=False`` leaves out the measured columns (the same on every CPU)."""
        rows = self._rows(timings)
        widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
        return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip() for row in rows)

    def __str__(self) -> str:
        return f"{self.model}\n{self.table()}"

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        header, *body = self._rows()
        head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in body)
        return (
            f"<p><b>{html.escape(self.model)}</b></p><table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"
        )

    def get(self, name: str) -> VariantResult:
        """The result of variant ``name``."""
        for result in self.results:
            if result.name == name:
                return result
        raise UnknownConfigError(f"no variant '{name}' in this report: {', '.join(r.name for r in self.results)}")

    def to_json(self) -> str:
        """The report as JSON (paths relative to the course folder)."""
        return json.dumps(asdict(self), indent=2)


def compare(
    model: CourseModel,
    configs: Sequence[str | QuantConfig] | None = None,
    measure: bool = True,
    budget_s: float = 1.0,
    threads: int = 2,
    reuse: QuantReport | None = None,
) -> QuantReport:
    """Build every variant of a course model and report size, run-time structure, quality and (``measure``) speed.

    Quality is test accuracy for ``"digits_cnn"`` and top-1 agreement with fp32 on 64 photo crops (never used
    in calibration) for ``"resnet18"``. Fusion counts use ``session.qdqisint8allowed`` = "0" (x86's default),
    so they are the same on every machine; timings use this machine's defaults, and the PyTorch baseline is the
    faster of 1 and ``threads`` threads. Rows (and baselines) of an earlier ``reuse`` report for the same files
    are kept rather than measured again."""
    pre = prepare_model(model)
    previous = {(r.name, r.path): r for r in reuse.results} if reuse is not None and reuse.model == model else {}
    chosen = [get_config(c) for c in (configs if configs is not None else CONFIGS.values())]
    if model == "digits_cnn":
        from .data import load_digits

        digits = load_digits()
        images: np.ndarray = digits.x_test
        labels = digits.y_test
        quality_name = "accuracy"
        feed = digits.x_test[:1]

        def quality(path: Path) -> float:
            return accuracy(path, images, labels)

    else:
        images = photo_crops(64, EVALUATION_SEED)
        quality_name = "top-1 agreement with fp32"
        feed = images[:1]
        reference = predict(pre, images).argmax(1)

        def quality(path: Path) -> float:
            return float((predict(path, images).argmax(1) == reference).mean())

    convs = op_counts(pre).get("Conv", 0)
    results = [
        previous.get(("fp32", relative_to_repo(pre)))
        or VariantResult(
            "fp32",
            "quant_pre_process output (batch norm folded)",
            relative_to_repo(pre),
            pre.stat().st_size,
            None,
            quality(pre),
            time_p50(pre, feed, budget_s, threads) if measure else None,
        )
    ]
    for config in chosen:
        path = quantize(pre, config)
        earlier = previous.get((config.name, relative_to_repo(path)))
        results.append(
            earlier
            or VariantResult(
                config.name,
                config.description,
                relative_to_repo(path),
                path.stat().st_size,
                fusion(path, convs),
                quality(path),
                time_p50(path, feed, budget_s, threads) if measure else None,
            )
        )
    baselines: dict[str, float] = {}
    if measure:
        baselines = dict(reuse.baselines_ms) if previous and reuse is not None and reuse.baselines_ms else {}
        if not baselines:
            # The faster of 1 and `threads` threads: on a busy machine PyTorch's OpenMP threads wait on each other
            # and 2 threads can run several times slower than 1; on a quiet one the thread count given wins.
            module = course_torch_model(model)
            baselines = {"torch-eager": min(torch_p50(module, feed, budget_s, t) for t in sorted({1, threads}))}
    return QuantReport(model, quality_name, tuple(results), baselines)


def plot_tradeoff(report: QuantReport, ax: Any = None) -> Figure:
    """Latency (x, log scale) vs quality (y) per variant; marker area proportional to file size."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(6.5, 3.8))
    timed = [r for r in report.results if r.p50_ms is not None]
    biggest = max((r.size_bytes for r in timed), default=1)
    for r in timed:
        ax.scatter(r.p50_ms, 100 * r.quality, s=40 + 900 * r.size_bytes / biggest, alpha=0.5)
        ax.annotate(
            f"{r.name}\n{_size(r.size_bytes)}", (r.p50_ms, 100 * r.quality), ha="center", va="center", fontsize=8
        )
    for name, ms in report.baselines_ms.items():
        ax.axvline(ms, color="grey", linestyle="--", linewidth=1)
        ax.annotate(name, (ms, ax.get_ylim()[0]), rotation=90, va="bottom", ha="right", fontsize=8, color="grey")
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.15)  # room for the labels of the points at the edges
    ax.set_xlabel("p50 latency, ms (log scale; lower is better)")
    ax.set_ylabel(f"{report.quality_name}, %")
    ax.set_title(f"{report.model}: latency vs {report.quality_name} (marker size = file size)")
    ax.figure.tight_layout()
    return ax.figure


# ---------------------------------------------------------------------------------------- bench engines


def _representative(shape: Sequence[int], n: int, seed: int) -> np.ndarray | None:
    """Real images shaped like a model's input: digits for (1, 8, 8), photo crops for (3, H, H); else None."""
    if tuple(shape) == (1, 8, 8):
        from .data import load_digits

        digits = load_digits()
        return digits.x_train[:n] if seed == CALIBRATION_SEED else digits.x_test[:n]
    if len(shape) == 3 and shape[0] == 3 and shape[1] == shape[2] and shape[1] >= 16:
        return photo_crops(n, seed, size=int(shape[1]))
    return None


def _bench_pre(source: Path) -> Path:
    """``quant_pre_process`` of a file the bench times, once (``artifacts/07/bench_<name>_pre.onnx``)."""
    from onnxruntime.quantization import quant_pre_process

    pre = artifact_path(f"bench_{source.stem}_pre.onnx", lesson=LESSON)
    if not pre.exists() or pre.stat().st_mtime < source.stat().st_mtime:
        with quiet():
            quant_pre_process(str(source), str(pre))
    return pre


def _bench_factory(config: QuantConfig, bench: Any) -> Callable[[Any, int], Any]:
    def factory(target: Any, threads: int) -> Any:
        from .agreement import compare_logits

        source = Path(target.onnx_path)
        input_name, batch = next(iter(target.feed.items()))
        course_file = (
            target.name in bench.COURSE_MODELS and source.resolve() == bench.course_model_onnx(target.name).resolve()
        )
        if course_file and target.name == "efficientnet_lite0":
            # A trained ImageNet model: calibrate on the 72 calibration crops of the packaged photos, judge on
            # the 240 evaluation crops (disjoint windows), each preprocessed as the weights expect.
            from .efficientnet import preprocess
            from .photos import calibration_crops, evaluation_crops

            pre = _bench_pre(source)
            evaluation: np.ndarray | None = preprocess(evaluation_crops())
            reader = ImageCalibrationReader(preprocess(calibration_crops()), input_name, batch_size=1)  # less memory
            path = quantize(pre, config, reader, out=artifact_path(f"bench_{source.stem}.{config.key()}.onnx", LESSON))
        elif course_file and target.name == "resnet18":
            # bench's ResNet-18 keeps random batch-norm statistics: nearly constant predictions, so any int8
            # model "agrees" 100%. Quantize lesson 07's ResNet-18 instead (same architecture and weights, batch
            # norm from photos; the same operators and shapes, so the same speed), with its calibration crops
            # and fixed evaluation set: the agreement is the lesson's number.
            pre = prepare_model("resnet18")
            reader = _reader_for("resnet18")()
            evaluation = photo_crops(64, EVALUATION_SEED)
            path = quantize(pre, config, reader)
        else:
            pre = _bench_pre(source)
            calibration = _representative(batch.shape[1:], 16, CALIBRATION_SEED)
            evaluation = _representative(batch.shape[1:], 32, EVALUATION_SEED)
            if calibration is None or evaluation is None:  # an unknown input: the benchmark's own feed, a few times
                calibration = evaluation = np.concatenate([batch] * max(1, 16 // len(batch)))
            reader = ImageCalibrationReader(calibration.astype(np.float32), input_name, batch_size=1)
            out = artifact_path(f"bench_{source.stem}.{config.key()}.onnx", LESSON)
            path = quantize(pre, config, reader, out=out)
        images = np.asarray(evaluation, dtype=np.float32)
        quality = compare_logits(predict(pre, images), predict(path, images))
        session = _session(path, threads)
        feed = dict(target.feed)
        return bench.Prepared(lambda: session.run(None, feed), extra=quality.columns())

    return factory


def register_bench_engines(bench: Any = None) -> list[str]:
    """Register ``ort-int8-dynamic``, ``ort-int8-static``, ``ort-int8-qdq-u8`` and ``ort-int8-qdq-u8-fc32`` with
    :mod:`course_utils.bench`; each row reports how the int8 model's logits compare with fp32's on real images
    (digits or photo crops shaped like the model's input): ``top1_agreement``, ``top1_agreement_confident``
    (images where fp32's top-1 probability beats the runner-up by >= 0.2), ``top5_contains`` (int8's top-1 among
    fp32's top 5), ``sqnr_db`` and ``n`` (:func:`course_utils.agreement.compare_logits`). For bench's own
    ``resnet18`` (random batch-norm statistics, nearly constant predictions) the engines quantize lesson 07's
    ResNet-18 (batch norm from photos) and measure on its fixed 64 crops; ``efficientnet_lite0`` is calibrated on
    72 crops of the packaged photos and measured on 240 others (:mod:`course_utils.photos`). Returns the engine
    names.

    ``bench`` is the bench module to register with (default :mod:`course_utils.bench`; its CLI passes itself,
    as ``python -m`` runs it as ``__main__``)."""
    if bench is None:
        from . import bench

    names = []
    for config in [*CONFIGS.values(), *TUNED.values()]:
        name = f"ort-{config.name}"
        if name not in bench.ENGINES:
            factory = _bench_factory(config, bench)
            bench.register_engine(name, factory, description=f"ORT int8: {config.description}", needs="onnx")
        names.append(name)
    return names


# ------------------------------------------------------------------------------------------------- CLI


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m course_utils.quantize [digits_cnn|resnet18] [--no-timing] [--json]``: the lesson's table."""
    parser = argparse.ArgumentParser(description="Quantize a course model every way lesson 07 shows; compare.")
    parser.add_argument("model", nargs="?", default="resnet18", choices=["digits_cnn", "resnet18"])
    parser.add_argument(
        "--no-timing", action="store_true", help="structure and accuracy only (fast, machine-independent)"
    )
    parser.add_argument("--budget", type=float, default=1.0, help="seconds of timed runs per variant (default 1)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    configs = [*CONFIGS.values(), *TUNED.values()]
    report = compare(args.model, configs, measure=not args.no_timing, budget_s=args.budget, threads=args.threads)
    print(report.to_json() if args.json else report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
