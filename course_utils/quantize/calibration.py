"""Calibration data and the fp32 models it calibrates: photo crops, digits, readers, prepared course models."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from course_utils.errors import (  # their home; importable from here too
    CalibrationInputError,
    UnknownConfigError,
    UnknownModelError,
)
from course_utils.models import registry
from course_utils.models.photos import BATCHNORM_SEED as BATCHNORM_SEED  # re-exported, as before
from course_utils.models.photos import CALIBRATION_SEED, EVALUATION_SEED, photo_crops
from course_utils.paths import artifact_path, build_once, newer_than

__all__ = [
    "BATCHNORM_SEED",
    "CALIBRATION_SEED",
    "EVALUATION_SEED",
    "FOLDER",
    "INPUT_NAME",
    "LESSON",
    "QUANT_EXPORT",
    "CalibrationInputError",
    "ImageCalibrationReader",
    "UnknownConfigError",
    "course_torch_model",
    "digits_reader",
    "evaluation_images",
    "photo_crops",
    "prepare_model",
    "quiet",
    "reader_for",
]

#: The artifacts folder of quantized models (``artifacts/quantize/``), named by concern, not by lesson.
FOLDER = "quantize"
LESSON = FOLDER  # the old name, kept importable
CourseModel = str  # a course model's key (``"digits_cnn"``, ``"resnet18"``): see course_utils.models.registry
INPUT_NAME = "image"


# ----------------------------------------------------------------------------------------------- data


class ImageCalibrationReader(CalibrationDataReader):  # type: ignore[misc]  # onnxruntime ships no types
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
    from course_utils.models.data import load_digits

    return ImageCalibrationReader(load_digits().x_train[:n], input_name, batch_size)


def reader_for(model: CourseModel) -> Callable[[], ImageCalibrationReader]:
    """A maker of the calibration reader for a course model: the digits, or 16 fixed photo crops for ResNet-18."""
    if model == "digits_cnn":
        return digits_reader
    return lambda: ImageCalibrationReader(photo_crops(16, CALIBRATION_SEED), INPUT_NAME, batch_size=1)


def evaluation_images(model: CourseModel) -> np.ndarray:
    """The fixed images a course model's int8 variants are compared with fp32 on: 32 test digits, or 64 photo
    crops for ResNet-18 (never the images that calibrate)."""
    if model == "digits_cnn":
        from course_utils.models.data import load_digits

        return load_digits().x_test[:32]
    return photo_crops(64, EVALUATION_SEED)


# --------------------------------------------------------------------------------------------- models


def course_torch_model(model: CourseModel) -> Any:
    """The PyTorch module behind a course model (the registry's builder): the trained DigitsCNN, or ResNet-18
    with batch-norm statistics from photos."""
    return _torch_spec(model).build()


def _torch_spec(model: CourseModel) -> registry.ModelSpec:
    spec = registry.get(model)
    if spec.framework != "torch":
        raise UnknownModelError(f"'{model}' is not a PyTorch course model: use one of {', '.join(_torch_models())}.")
    return spec


def _torch_models() -> list[str]:
    return [key for key, spec in registry.MODELS.items() if spec.framework == "torch" and spec.benchmark]


#: How :func:`prepare_model` exports: opset 17, constant folding on (int8 wants batch norm folded already).
QUANT_EXPORT = registry.ExportOptions(opset=17, constant_folding=True)


def prepare_model(model: CourseModel, force: bool = False) -> Path:
    """Export a course model (the registry's export at :data:`QUANT_EXPORT`: legacy exporter, opset 17, dynamic
    batch) and run ``quant_pre_process`` on it, once.

    Returns ``artifacts/quantize/<model>_pre.onnx``, the fp32 model every variant starts from
    (batch norm folded into the convolutions, shapes inferred)."""
    from onnxruntime.quantization import quant_pre_process

    _torch_spec(model)  # the same error for a model that is not a PyTorch course model (without building it)
    fp32 = registry.onnx_path(model, QUANT_EXPORT)
    pre = artifact_path(f"{registry.get(model).key}_pre.onnx", lesson=FOLDER)

    def build(partial: Path) -> None:
        with quiet():
            quant_pre_process(str(fp32), str(partial))

    return build_once(pre, build, fresh=newer_than(fp32), force=force)


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
