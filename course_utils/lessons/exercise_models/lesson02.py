"""The PyTorch models lesson 02's exercises export (re-exported by :mod:`course_utils.lessons.lesson02`): each
has the property an exercise is about (an input size baked into a reshape, a data-dependent branch, an operator
with no ONNX translation, two inputs), so the checks can compare a learner's ONNX file with the very model it
came from."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from course_utils.models.data import load_digits, load_digits_cnn

__all__ = [
    "AutoScaleCNN",
    "ColumnMedianClassifier",
    "PatchClassifier",
    "TemperatureCNN",
    "auto_scale_cnn",
    "column_median_classifier",
    "control_flow_inputs",
    "patch_classifier",
    "temperature_cnn",
]


class PatchClassifier(nn.Module):
    """Cuts an ``(N, 1, 8, 8)`` digit into four 4x4 patches and classifies it with one attention layer.

    With an example batch of 1, the attention layer pins the batch to 1: ``torch.export`` reports it and
    ``torch.onnx.export`` silently applies the suggested fix, so the exported batch is fixed (exercise 02.1).
    """

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Linear(16, 32)
        self.attention = nn.MultiheadAttention(32, num_heads=4, batch_first=True)
        self.head = nn.Linear(32, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        patches = x.reshape(n, 2, 4, 2, 4).permute(0, 1, 3, 2, 4).reshape(n, 4, 16)
        h = self.embed(patches)
        h, _ = self.attention(h, h, h, need_weights=False)
        logits: torch.Tensor = self.head(h.mean(1))
        return logits


def patch_classifier(seed: int = 0) -> PatchClassifier:
    """A :class:`PatchClassifier` in eval mode with seeded random weights (the same ones every call)."""
    torch.manual_seed(seed)
    return PatchClassifier().eval()


class AutoScaleCNN(nn.Module):
    """The trained DigitsCNN behind a convenience: raw scikit-learn pixels (0..16) are rescaled to [0, 1].

    The ``if`` depends on the *values* of the input, which is what exercise 02.2 is about.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cnn = load_digits_cnn()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.max() > 1:  # raw 0..16 pixels
            x = x / 16
        logits: torch.Tensor = self.cnn(x)
        return logits


def auto_scale_cnn() -> AutoScaleCNN:
    """An :class:`AutoScaleCNN` in eval mode."""
    return AutoScaleCNN().eval()


class TemperatureCNN(nn.Module):
    """The trained DigitsCNN with a second input: a temperature per image that softens its probabilities.

    ``forward(image, temperature)`` takes images ``(N, 1, 8, 8)`` and temperatures ``(N, 1)`` and returns class
    probabilities ``(N, 10)``: the model of exercise 02.5, a transfer of section 3 to two inputs.
    """

    def __init__(self) -> None:
        super().__init__()
        self.cnn = load_digits_cnn()

    def forward(self, image: torch.Tensor, temperature: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.cnn(image) / temperature, dim=1)


def temperature_cnn() -> TemperatureCNN:
    """A :class:`TemperatureCNN` in eval mode."""
    return TemperatureCNN().eval()


class ColumnMedianClassifier(nn.Module):
    """Scores a digit from the median of each pixel column: robust to one stray bright pixel per column.

    ``forward(x)`` takes images ``(N, 1, 8, 8)``, summarizes each of the 8 columns by its median over the 8 rows
    (``torch.median``) and scores the 10 classes with a linear layer fitted to the training digits by least squares.
    The model of exercise 02.4: ``aten.median.dim`` has no ONNX translation, a transfer of section 7.
    """

    def __init__(self) -> None:
        super().__init__()
        self.head = nn.Linear(8, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        columns = x[:, 0].median(dim=1).values  # (N, 8): each column's median over the rows
        logits: torch.Tensor = self.head(columns)
        return logits


def column_median_classifier() -> ColumnMedianClassifier:
    """A :class:`ColumnMedianClassifier` in eval mode, its linear layer fitted to the training digits."""
    model = ColumnMedianClassifier().eval()
    digits = load_digits()
    with torch.no_grad():
        columns = torch.from_numpy(digits.x_train)[:, 0].median(dim=1).values.numpy().astype(np.float64)
    features = np.hstack([columns, np.ones((len(columns), 1))])
    targets = np.eye(10)[digits.y_train]
    solution = np.linalg.lstsq(features, targets, rcond=None)[0]  # (9, 10): weights, then the bias
    with torch.no_grad():
        model.head.weight.copy_(torch.from_numpy(solution[:8].T.astype(np.float32)))
        model.head.bias.copy_(torch.from_numpy(solution[8].astype(np.float32)))
    return model


def control_flow_inputs(batch: int) -> dict[str, np.ndarray]:
    """Both kinds of input the model accepts, at full and at reduced contrast: a fix that divides by the
    batch's maximum, decides per pixel, or stretches every batch to [0, 1] gets one of these wrong."""
    scaled = load_digits().x_test[:batch]
    raw = scaled * np.float32(16)
    mixed = scaled.copy()
    mixed[::2] *= np.float32(16)  # raw and scaled images in one batch: the model decides once, for the whole batch
    return {
        "scaled [0, 1]": scaled,
        "raw 0..16": raw,
        "faint scaled (max 0.75)": scaled * np.float32(0.75),
        "faint raw (max 12)": raw * np.float32(0.75),
        "a batch mixing raw and scaled": mixed,
    }
