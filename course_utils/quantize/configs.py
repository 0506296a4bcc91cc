"""The int8 variants (:class:`QuantConfig`, :data:`CONFIGS`, :data:`TUNED`) and :func:`quantize`, which builds one."""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import onnx

from course_utils.paths import artifact_path, build_once, newer_than
from course_utils.quantize.calibration import (
    FOLDER,
    CalibrationInputError,
    UnknownConfigError,
    quiet,
    reader_for,
)

__all__ = ["CONFIGS", "TUNED", "QuantConfig", "get_config", "quantize"]

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

    from course_utils.onnxfile.modelio import load_model

    config = get_config(config)
    source = Path(model_path)
    proto = load_model(source, load_external_data=False)  # one-line errors for a missing or broken file
    target = Path(out) if out else artifact_path(f"{source.stem}.{config.key()}.onnx", lesson=FOLDER)

    def build(partial: Path) -> None:  # once, whichever process asks first; never half a file
        with quiet():
            if config.dynamic:
                quantize_dynamic(str(source), str(partial), **config.kwargs(proto))
                return
            calibration = reader
            if calibration is None:
                stem = source.stem.removesuffix("_pre")
                if stem not in ("digits_cnn", "resnet18"):
                    raise CalibrationInputError("quantize_static needs calibration data: pass reader=...")
                calibration = reader_for(stem)()
            _check_reader(source, calibration)
            quantize_static(str(source), str(partial), calibration, **config.kwargs(proto))

    return build_once(target, build, fresh=newer_than(source), force=force)
