"""Calibration data and the fp32 models it calibrates: photo crops, digits, readers, prepared course models."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Literal

import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from course_utils.errors import CourseError
from course_utils.paths import artifact_path

__all__ = [
    "BATCHNORM_SEED",
    "CALIBRATION_SEED",
    "EVALUATION_SEED",
    "INPUT_NAME",
    "LESSON",
    "CalibrationInputError",
    "CourseModel",
    "ImageCalibrationReader",
    "UnknownConfigError",
    "course_torch_model",
    "digits_reader",
    "photo_crops",
    "prepare_model",
    "quiet",
    "reader_for",
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
    from course_utils.models.data import load_digits

    return ImageCalibrationReader(load_digits().x_train[:n], input_name, batch_size)


def reader_for(model: CourseModel) -> Callable[[], ImageCalibrationReader]:
    """A maker of the calibration reader for a course model: the digits, or 16 fixed photo crops for ResNet-18."""
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

    from course_utils.models.nets import resnet18

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
        from course_utils.models.data import load_digits_cnn

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
