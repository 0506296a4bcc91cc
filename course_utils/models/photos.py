"""Real photos, offline: crops of the two photos scikit-learn ships (a temple in China, a flower), normalised as
ImageNet models expect. The fixed image set that calibrates ResNet-18's batch norm and its int8 variants."""

from __future__ import annotations

import numpy as np

__all__ = ["BATCHNORM_SEED", "CALIBRATION_SEED", "EVALUATION_SEED", "photo_crops"]

# ImageNet's per-channel mean and standard deviation: how torchvision-style models expect photos normalised.
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Which crops calibrate and which evaluate: disjoint seeds, so agreement is measured on images calibration never saw.
CALIBRATION_SEED, EVALUATION_SEED, BATCHNORM_SEED = 1, 2, 3


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
