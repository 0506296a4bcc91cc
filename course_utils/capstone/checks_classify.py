"""The rubric of stage 1: the pretrained EfficientNet-Lite0 classifies three photos in eager mode. The learner
passes the photos as pixels too; the rubric maps them to the model's input itself and compares with the batch, so
a batch that only stays in the right range (channels reshaped instead of moved, colours reversed, noise, one photo
nudged three times) does not pass. Raises :class:`~course_utils.lessons.exercises.NotYet` (what is wrong and why,
never the fix) or returns :class:`~course_utils.capstone.stages.Passed` with the report card's numbers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from course_utils.capstone.evidence import eager_logits, reference_model
from course_utils.capstone.stages import Passed
from course_utils.errors import first_line
from course_utils.lessons.exercises import NotYet, expect

__all__ = ["MIN_NEIGHBOUR_CORRELATION", "MIN_PHOTO_DIFFERENCE", "SAME_INPUT_ATOL", "check_classify"]


def _as_array(batch: Any) -> np.ndarray:
    if hasattr(batch, "detach"):  # a torch tensor
        batch = batch.detach().cpu().numpy()
    return np.asarray(batch)


#: How far a batch may be from the rubric's own preprocessing of the photos: ``x / 127.5 - 1`` (another way to
#: write the builder's scale) differs from ``(x - 127) / 128`` by at most 0.008.
SAME_INPUT_ATOL = 0.02
#: Fewer than this: the pixels vary independently of their neighbours (random noise), not like a photo's.
MIN_NEIGHBOUR_CORRELATION = 0.3
#: Two photos whose pixels differ by less than this on average (0-255 levels) are one photo, perhaps jittered.
MIN_PHOTO_DIFFERENCE = 3.0


def _pixels(photos: Any) -> np.ndarray:
    """The learner's photos as float32 ``(N, 224, 224, 3)`` pixels; :class:`NotYet` for anything else."""
    expect(
        photos is not None and not (isinstance(photos, Sequence) and len(photos) == 0),
        "no photos yet: pass the photos the batch was made from, as pixels",
        why="the rubric maps them to the model's input itself and compares with your batch",
    )
    try:
        items = [_as_array(p) for p in photos] if isinstance(photos, list | tuple) else [_as_array(photos)]
        array = np.stack(items) if isinstance(photos, list | tuple) else items[0]
    except (TypeError, ValueError) as error:
        raise NotYet("the photos cannot be stacked into one array of pixels", got=first_line(error)[:200]) from None
    expect(
        array.ndim == 4 and array.shape[1:] == (224, 224, 3),
        "the photos are not 224x224 RGB images as loaded (photos, height, width, colour)",
        why="the rubric preprocesses the pixels the model sees, before any scaling or reordering of axes",
        expected="shape (N, 224, 224, 3)",
        got=f"shape {list(array.shape)}",
    )
    expect(
        np.issubdtype(array.dtype, np.number) and not np.issubdtype(array.dtype, np.complexfloating),
        f"the photos hold {array.dtype} values",
        why="photos are pixel values",
    )
    pixels = array.astype(np.float32)
    low, high = float(pixels.min()), float(pixels.max())
    expect(
        low >= 0 and high <= 255 and high > 1.5,
        "the photos are not pixel values before scaling",
        why="the rubric applies the model's preprocessing itself, to pixels as a photo file stores them",
        expected="values from 0 to 255",
        got=f"values from {low:.2f} to {high:.2f}",
    )
    for k, photo in enumerate(pixels):
        grey = photo.mean(-1)
        spread = float(grey.std())
        correlation = float(np.corrcoef(grey[:, :-1].ravel(), grey[:, 1:].ravel())[0, 1]) if spread > 0 else 0.0
        expect(
            correlation >= MIN_NEIGHBOUR_CORRELATION,
            f"photo {k + 1} does not look like a photo",
            why="neighbouring pixels of a photo are alike (edges are rare); these vary independently, like noise "
            "or a flat image, and a classifier's answer on them means nothing",
            expected=f"a correlation of neighbouring pixels of at least {MIN_NEIGHBOUR_CORRELATION}",
            got=f"{correlation:.2f}",
        )
    for j in range(len(pixels)):
        for k in range(j + 1, len(pixels)):
            difference = float(np.abs(pixels[j] - pixels[k]).mean())
            expect(
                difference >= MIN_PHOTO_DIFFERENCE,
                "the batch does not hold three different photos",
                why="one photo repeated (or nudged by a little noise) says nothing about a classifier",
                expected=f"photos whose pixels differ by at least {MIN_PHOTO_DIFFERENCE:g} levels on average",
                got=f"photos {j + 1} and {k + 1} differ by {difference:.2f}",
            )
    expect(
        len(pixels) >= 3,
        "the batch does not hold three different photos",
        why="one or two photos say little about a classifier",
        expected="at least 3 different photos",
        got=f"{len(pixels)} photos",
    )
    return pixels


def _same_photos(batch: np.ndarray, pixels: np.ndarray) -> None:
    """:class:`NotYet` unless ``batch`` is ``pixels`` mapped to the weights' scale, channels first, in order."""
    expect(
        len(batch) == len(pixels),
        f"the batch holds {len(batch)} images and you passed {len(pixels)} photos",
        why="the rubric compares each image of the batch with the photo it was made from",
    )
    expected = (pixels - 127.0) / 128.0  # the builder's scale: MEAN_RGB 127, STDDEV_RGB 128
    channels_first = expected.transpose(0, 3, 1, 2)

    def gap(candidate: np.ndarray) -> float:
        return float(np.max(np.abs(batch - candidate)))

    expect(
        gap(channels_first[:, ::-1]) > SAME_INPUT_ATOL or gap(channels_first) <= SAME_INPUT_ATOL,
        "the batch's colour channels are in reverse order (blue, green, red)",
        why="the weights were trained on RGB photos: with red and blue swapped the model sees other colours "
        "(a blue sky as orange) and its answers drift",
    )
    expect(
        gap(expected.reshape(batch.shape)) > SAME_INPUT_ATOL,
        "each channel of the batch mixes the photos' three colours",
        why="changing the shape keeps the values in memory order, each pixel's red, green and blue side by "
        "side: the axes are relabelled, not moved, so a 'colour plane' holds rows of interleaved colours",
    )
    for k in range(len(batch)):
        error = float(np.max(np.abs(batch[k] - channels_first[k])))
        expect(
            error <= SAME_INPUT_ATOL,
            f"image {k + 1} of the batch is not photo {k + 1} on the scale the weights were trained on",
            why="the rubric maps your photos to the model's input the way EfficientNet-Lite's preprocessing "
            "does and compares: the batch must be those photos, in the same order and colour order",
            expected=f"max |batch - preprocessed photo| <= {SAME_INPUT_ATOL}",
            got=f"{error:.3f}",
        )


def check_classify(model: Any = None, batch: Any = None, labels: Any = None, photos: Any = None) -> Passed:
    """Stage 1: ``model`` the pretrained EfficientNet-Lite0 ready to predict, ``batch`` the input it was given
    (three or more different photos), ``labels`` the ImageNet name of each photo's top class, ``photos`` the same
    photos as RGB pixels before any scaling, ``(N, 224, 224, 3)`` (the rubric preprocesses them itself and
    compares with ``batch``)."""
    import torch

    expect(model is not None, "no model yet: pass the PyTorch model you loaded first")
    expect(
        isinstance(model, torch.nn.Module),
        "the first argument is not a PyTorch model",
        why="stage 1 runs the model in eager mode, as PyTorch itself does",
        got=type(model).__name__,
    )
    reference = reference_model().state_dict()
    state = model.state_dict()
    expect(
        set(state) == set(reference),
        "the model's parameters are not EfficientNet-Lite0's",
        why="the capstone ships the pretrained EfficientNet-Lite0; another network cannot load its weights",
        got=f"{len(state)} tensors in its state dict, {len(set(state) & set(reference))} named like the reference's",
    )
    same = all(torch.equal(state[k].cpu(), reference[k]) for k in reference if reference[k].dtype.is_floating_point)
    expect(
        same,
        "the model's weights are not the pretrained ones",
        why="an untrained network's top class is noise: it has learned nothing about photos",
    )
    expect(
        not model.training,
        "the model is in training mode",
        why="in training mode batch norm normalises with the batch's own statistics (and updates its running ones), "
        "so one photo's answer depends on the other photos in the batch",
    )
    expect(batch is not None, "no batch yet: pass the input you gave the model")
    array = _as_array(batch)
    expect(
        array.ndim == 4,
        f"the batch has {array.ndim} dimensions",
        why="a batch of images for a PyTorch CNN is (photos, channels, height, width)",
        got=f"shape {list(array.shape)}",
    )
    expect(
        array.shape[1] == 3,
        f"the batch's second dimension is {array.shape[1]}, not the 3 colour channels",
        why="PyTorch's convolutions read (N, C, H, W); photos loaded as pixels come as (N, H, W, C)",
        got=f"shape {list(array.shape)}",
    )
    expect(
        array.shape[2:] == (224, 224),
        f"the photos are {array.shape[2]}x{array.shape[3]} pixels",
        why="EfficientNet-Lite0 was trained on 224x224 inputs; the export and the page use that size",
        got=f"shape {list(array.shape)}",
    )
    expect(
        np.issubdtype(array.dtype, np.floating),
        f"the batch holds {array.dtype} values",
        why="the model computes in float32 on pixels mapped to the scale its weights were trained on",
        got=str(array.dtype),
    )
    low, high = float(array.min()), float(array.max())
    scale = "the scale the weights were trained on (EfficientNet-Lite's preprocessing)"
    expect(
        high <= 1.01,
        f"the batch's values reach {high:.1f}",
        why="the pixels were not mapped to the range the weights were trained on; the logits of such inputs mean "
        "nothing",
        expected=scale,
        got=f"values from {low:.2f} to {high:.2f}",
    )
    expect(
        low < -0.2,
        "the batch has no clearly negative values",
        why="the weights were trained on pixels centred on zero (dark pixels negative); inputs in [0, 1] shift "
        "every activation",
        expected=scale,
        got=f"values from {low:.2f} to {high:.2f}",
    )
    expect(
        low >= -1.01,
        f"the batch's values go down to {low:.2f}",
        why="the photos were normalised with another model family's statistics, not the ones these weights "
        "were trained with",
        expected=scale,
        got=f"values from {low:.2f} to {high:.2f}",
    )
    _same_photos(array, _pixels(photos))
    expect(labels is not None, "no labels yet: pass the ImageNet name of each photo's top class")
    names = list(labels) if not isinstance(labels, str) else [labels]
    expect(
        len(names) == len(array),
        f"{len(names)} labels for {len(array)} photos",
        why="each photo gets the name of its own top class",
    )
    expect(
        all(isinstance(n, str) for n in names),
        "the labels are not class names",
        why="a learner, a user and the web page all read ImageNet names, not class numbers",
        got=", ".join(repr(n) for n in names[:3]),
    )
    from course_utils.models.efficientnet import imagenet_labels

    top = eager_logits(array.astype(np.float32)).argmax(1)
    imagenet = imagenet_labels()
    for k, (name, index) in enumerate(zip(names, top, strict=True)):
        expect(
            name.strip().lower() == imagenet[int(index)].lower(),
            f"photo {k + 1}'s label is not the pretrained model's top class for that input",
            why="the label of logit i is ImageNet's i-th class name; a wrong list, an off-by-one or another "
            "model's answer gives another name",
            got=repr(name),
        )
    return Passed(
        f"the pretrained model classifies {len(names)} photos in eager mode",
        (("photos", str(len(names))), ("top-1", ", ".join(imagenet[int(i)] for i in top))),
    )
