"""The capstone's photo split: calibration and evaluation on different PHOTOS, not only different crops.

:func:`course_utils.models.photos.calibration_crops` and ``evaluation_crops`` (lesson 07, the benchmarks) are
different windows of the same 22 photos, and the windows overlap: int8 judged on them is judged on scenes
calibration has seen. Stage 5 splits by photo instead: :data:`CALIBRATION_PHOTOS` calibrate, the other photos
(:data:`EVALUATION_PHOTOS`) judge, and :func:`crops_of` cuts every window of the one seeded sequence (the first
``CALIBRATION_CROPS + EVALUATION_CROPS``) that falls on the named photos. The two views of ``stereo_motorcycle``
are one scene (:func:`scene`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from course_utils.errors import UnknownPhotoError

__all__ = ["CALIBRATION_PHOTOS", "EVALUATION_PHOTOS", "crops_of", "photo_names", "scene"]

#: The photos stage 5's reference solution calibrates on (7 photos, 6 scenes; colour and grayscale).
CALIBRATION_PHOTOS = ("astronaut", "motorcycle_left", "motorcycle_right", "camera", "gravel", "retina", "flower")
#: Views of one scene: a photo split must keep them on one side.
_SAME_SCENE = {"motorcycle_right": "motorcycle_left"}


def photo_names() -> tuple[str, ...]:
    """The 22 package photos' names, in :func:`~course_utils.models.photos.load_photos`'s order."""
    from course_utils.models.photos import load_photos

    return tuple(p.name for p in load_photos())


def scene(name: str) -> str:
    """The scene a photo shows: its own name, except that both stereo views name ``motorcycle_left``."""
    return _SAME_SCENE.get(name, name)


#: Every other photo: stage 5's reference solution judges int8 on these.
EVALUATION_PHOTOS = (
    "chelsea", "coffee", "rocket", "hubble_deep_field", "immunohistochemistry", "coins", "moon", "brick",
    "grass", "clock", "page", "text", "cell", "china", "grace_hopper",
)  # fmt: skip


def crops_of(names: Sequence[str], size: int = 224) -> np.ndarray:
    """Every crop (RGB ``uint8``, ``(n, size, size, 3)``) of the seeded sequence's windows that lie on the photos
    ``names``; :class:`~course_utils.errors.UnknownPhotoError` for a name that is not a package photo."""
    from course_utils.models.photos import CALIBRATION_CROPS, EVALUATION_CROPS, crop_windows, window_crops

    known = photo_names()
    if isinstance(names, str):
        names = [names]
    unknown = [n for n in names if n not in known]
    if unknown:
        raise UnknownPhotoError(f"no package photo is named {unknown[0]!r}: the photos are {', '.join(known)}")
    wanted = {known.index(n) for n in names}
    windows = tuple(w for w in crop_windows(CALIBRATION_CROPS + EVALUATION_CROPS) if w.photo in wanted)
    return window_crops(windows, size)
