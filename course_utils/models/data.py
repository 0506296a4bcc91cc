"""Loading the course's committed data: scikit-learn's digits split, and the small models trained on it.

Everything here reads files from ``data/`` (built by ``data/make_data.py``); nothing is downloaded.
Framework imports (torch, keras) happen inside the loaders that need them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from course_utils.paths import data_path

if TYPE_CHECKING:
    from course_utils.models.nets import DigitsCNN

__all__ = ["Digits", "load_digits", "load_digits_cnn", "load_digits_keras", "load_manifest"]

DIGITS_FILE = "digits.npz"
TORCH_CNN_FILE = "digits_cnn.pt"
KERAS_MODEL_FILE = "digits_keras.keras"
MANIFEST_FILE = "manifest.json"


@dataclass(frozen=True)
class Digits:
    """The 8x8 digits (1,797 images, 10 classes), split 80/20 with a fixed seed.

    Images are float32 in [0, 1], channels-first ``(N, 1, 8, 8)`` as PyTorch expects; use
    :meth:`nhwc` for Keras/TensorFlow's channels-last layout and :meth:`flat` for scikit-learn.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray

    @staticmethod
    def nhwc(images: np.ndarray) -> np.ndarray:
        """``(N, 1, 8, 8)`` -> ``(N, 8, 8, 1)`` (channels-last, contiguous)."""
        return np.ascontiguousarray(images.transpose(0, 2, 3, 1))

    @staticmethod
    def flat(images: np.ndarray) -> np.ndarray:
        """``(N, 1, 8, 8)`` -> ``(N, 64)`` (one row of features per image)."""
        return images.reshape(len(images), -1)

    def __repr__(self) -> str:
        return (
            f"Digits(train={self.x_train.shape} {self.x_train.dtype}, test={self.x_test.shape}, "
            f"classes={len(np.unique(self.y_train))})"
        )


def load_digits() -> Digits:
    """Load the committed digits split (see ``data/make_data.py``)."""
    with np.load(data_path(DIGITS_FILE)) as f:
        # Stored as 0..16 integers (what scikit-learn ships); scaled here so every lesson sees the same floats.
        def scale(key: str) -> np.ndarray:
            images: np.ndarray = (f[key].astype(np.float32) / 16.0).reshape(-1, 1, 8, 8)
            return images

        return Digits(scale("x_train"), f["y_train"].astype(np.int64), scale("x_test"), f["y_test"].astype(np.int64))


def load_digits_cnn() -> DigitsCNN:
    """The trained :class:`~course_utils.models.DigitsCNN`, in eval mode."""
    import torch

    from course_utils.models.nets import DigitsCNN

    model = DigitsCNN()
    model.load_state_dict(torch.load(data_path(TORCH_CNN_FILE), weights_only=True))
    return model.eval()


def load_digits_keras() -> Any:
    """The trained Keras digits model (input ``(N, 8, 8, 1)`` float32, output class probabilities)."""
    import keras

    return keras.saving.load_model(data_path(KERAS_MODEL_FILE))


def load_manifest() -> dict[str, Any]:
    """What ``data/make_data.py`` recorded: file hashes, accuracies, package versions."""
    manifest: dict[str, Any] = json.loads(data_path(MANIFEST_FILE).read_text(encoding="utf-8"))
    return manifest
