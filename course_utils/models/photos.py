"""Real photos that ship inside installed packages, and fixed sets of square crops of them: data to calibrate
and to judge an ImageNet classifier offline, the same on every machine.

The photos (22): scikit-image's ``skimage.data`` (astronaut, chelsea the cat, coffee, rocket, the two views of
``stereo_motorcycle``, the Hubble deep field, a retina, an immunohistochemistry slide, and the grayscale camera,
coins, moon, brick, grass, gravel, clock, page, text and cell pictures, repeated into three channels),
scikit-learn's ``load_sample_images`` (china, flower) and matplotlib's sample data (``grace_hopper.jpg``).

A crop is a square window of a photo (side 40-100% of the photo's shorter side, placed at random, mirrored half
the time) resized to ``size`` x ``size`` with Pillow's bilinear filter, which works on 8-bit pixels in fixed-point
integers: with the pinned packages (their photo files, Pillow's JPEG decoder) the same pixels on every CPU. One seeded sequence of windows is dealt in turn to the photos; the first
:data:`CALIBRATION_CROPS` windows calibrate, the next :data:`EVALUATION_CROPS` evaluate, so no window is in both
sets (:func:`crop_windows` lists them). Both sets are crops of the same 22 photos and their windows overlap: they
judge int8 on other crops, not on photos calibration never saw (the capstone splits by photo instead). Crops are
RGB ``uint8``; each model applies its own preprocessing (:func:`course_utils.models.efficientnet.preprocess`).

:func:`photo_crops` is the older, smaller set lesson 07's ResNet-18 uses: seeded crops of scikit-learn's two
photos, normalised as torchvision-style ImageNet models expect (they calibrate its batch norm and its int8
variants).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

__all__ = [
    "BATCHNORM_SEED",
    "CALIBRATION_CROPS",
    "CALIBRATION_SEED",
    "EVALUATION_CROPS",
    "EVALUATION_SEED",
    "Photo",
    "Window",
    "calibration_crops",
    "crop_windows",
    "evaluation_crops",
    "load_photos",
    "photo_crops",
    "window_crops",
]

#: How many crops calibrate and how many evaluate by default (3 and about 11 per photo).
CALIBRATION_CROPS = 72
EVALUATION_CROPS = 240
SEED = 0
_SKIMAGE_COLOR = ("astronaut", "chelsea", "coffee", "rocket", "hubble_deep_field", "retina", "immunohistochemistry")
_SKIMAGE_GRAY = ("camera", "coins", "moon", "brick", "grass", "gravel", "clock", "page", "text", "cell")


@dataclass(frozen=True)
class Photo:
    """One photo: ``name``, the package that ships it (``source``) and its RGB ``uint8`` pixels ``(H, W, 3)``."""

    name: str
    source: str
    pixels: np.ndarray

    def __repr__(self) -> str:
        return f"Photo({self.name!r} from {self.source}, {self.pixels.shape[1]}x{self.pixels.shape[0]})"


@dataclass(frozen=True)
class Window:
    """A square crop window: photo index, top-left corner, side (pixels of the photo) and a left-right mirror."""

    photo: int
    top: int
    left: int
    side: int
    mirror: bool


def _rgb(pixels: np.ndarray) -> np.ndarray:
    array = np.asarray(pixels)
    if array.ndim == 2:
        array = np.repeat(array[:, :, None], 3, axis=2)
    return np.ascontiguousarray(array[:, :, :3], dtype=np.uint8)


@lru_cache(maxsize=1)
def load_photos() -> tuple[Photo, ...]:
    """The 22 photos, in a fixed order (loaded once; nothing is downloaded: each file ships in its package)."""
    import matplotlib.cbook
    import skimage.data
    from PIL import Image
    from sklearn.datasets import load_sample_images

    photos = [Photo(name, "scikit-image", _rgb(getattr(skimage.data, name)())) for name in _SKIMAGE_COLOR]
    left, right, _ = skimage.data.stereo_motorcycle()  # type: ignore[no-untyped-call]  # skimage is untyped here
    photos += [
        Photo("motorcycle_left", "scikit-image", _rgb(left)),
        Photo("motorcycle_right", "scikit-image", _rgb(right)),
    ]
    photos += [Photo(name, "scikit-image", _rgb(getattr(skimage.data, name)())) for name in _SKIMAGE_GRAY]
    samples = load_sample_images()
    for path, image in zip(samples.filenames, samples.images, strict=True):  # china.jpg, flower.jpg
        photos.append(Photo(Path(path).stem, "scikit-learn", _rgb(image)))
    with Image.open(matplotlib.cbook.get_sample_data("grace_hopper.jpg", asfileobj=False)) as image:
        photos.append(Photo("grace_hopper", "matplotlib", _rgb(np.asarray(image.convert("RGB")))))
    return tuple(photos)


def crop_windows(n: int, start: int = 0) -> tuple[Window, ...]:
    """Windows ``start`` .. ``start + n - 1`` of the one seeded sequence (window ``k`` is on photo
    ``k % 22``). Calibration uses ``start=0``, evaluation ``start=CALIBRATION_CROPS``."""
    if n < 0 or start < 0:
        raise ValueError(f"n and start must be >= 0, got n={n}, start={start}")
    shapes = [p.pixels.shape[:2] for p in load_photos()]
    rng = np.random.default_rng(SEED)
    windows = []
    for k in range(start + n):
        height, width = shapes[k % len(shapes)]
        side = round(min(height, width) * float(rng.uniform(0.4, 1.0)))
        top = int(rng.integers(0, height - side + 1))
        left = int(rng.integers(0, width - side + 1))
        mirror = bool(rng.random() < 0.5)
        if k >= start:
            windows.append(Window(k % len(shapes), top, left, side, mirror))
    return tuple(windows)


def _crops(windows: tuple[Window, ...], size: int) -> np.ndarray:
    from PIL import Image

    photos = load_photos()
    out = np.empty((len(windows), size, size, 3), dtype=np.uint8)
    for i, w in enumerate(windows):
        image = Image.fromarray(photos[w.photo].pixels)
        box = (w.left, w.top, w.left + w.side, w.top + w.side)
        crop = np.asarray(image.resize((size, size), Image.Resampling.BILINEAR, box=box))
        out[i] = crop[:, ::-1] if w.mirror else crop
    return out


def window_crops(windows: tuple[Window, ...], size: int = 224) -> np.ndarray:
    """The crops (RGB ``uint8``, ``(n, size, size, 3)``) of the given windows, e.g. some of :func:`crop_windows`."""
    return _crops(tuple(windows), size)


@lru_cache(maxsize=4)
def _cached(n: int, start: int, size: int) -> np.ndarray:
    array = _crops(crop_windows(n, start), size)
    array.setflags(write=False)
    return array


def calibration_crops(n: int = CALIBRATION_CROPS, size: int = 224) -> np.ndarray:
    """The first ``n`` crops (RGB ``uint8``, ``(n, size, size, 3)``): data for ``quantize_static``'s calibration.
    ``n`` may not exceed :data:`CALIBRATION_CROPS`, so calibration never reaches the evaluation windows."""
    if not 0 < n <= CALIBRATION_CROPS:
        raise ValueError(f"calibration takes 1 to {CALIBRATION_CROPS} crops, got {n}")
    return _cached(n, 0, size)


def evaluation_crops(n: int = EVALUATION_CROPS, size: int = 224) -> np.ndarray:
    """``n`` crops after the calibration ones (RGB ``uint8``, ``(n, size, size, 3)``): other windows than
    calibration's, on the same photos (windows may overlap)."""
    if n < 1:
        raise ValueError(f"evaluation takes at least 1 crop, got {n}")
    return _cached(n, CALIBRATION_CROPS, size)


# ------------------------------------------------------------------ lesson 07's ResNet-18 crops

# ImageNet's per-channel mean and standard deviation: how torchvision-style models expect photos normalised.
_MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
_STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
# Which crops calibrate and which evaluate: different seeds, so other windows (of the same two photos; they may overlap).
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
