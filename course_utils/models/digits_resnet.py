"""A small trained residual CNN on the course's digits, and a *shifted* copy of the digits it meets in
production: the data behind lesson 07's calibration-data trap.

* :class:`DigitsResNet`: a stem convolution, three residual blocks (the middle one halves the size), global average
  pooling and a linear classifier; input ``(N, 1, 8, 8)`` float32, output ``(N, 10)`` logits. Trained by
  ``data/make_data.py`` on the digits with scanner variation added to every batch (random gain, offset and noise),
  so the fp32 model reads clean and shifted digits alike (about half a minute on 2 cores; weights in
  ``data/digits_resnet.pt``).
* :func:`shifted_digits`: the digits as the production scanner delivers them: more contrast and brighter
  (``3 * x + 1``) and noisy (Gaussian, sigma 0.5), from a fixed seed. fp32 reads them as well as clean digits; an
  int8 model calibrated on clean digits has input and activation ranges that clip them, and reads far fewer.

Importing this module imports torch.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from course_utils.paths import data_path

__all__ = [
    "GAIN",
    "NOISE",
    "OFFSET",
    "WEIGHTS_FILE",
    "DigitsResNet",
    "load_digits_resnet",
    "shifted_digits",
    "train_digits_resnet",
]

WEIGHTS_FILE = "digits_resnet.pt"
#: The production scanner: pixels ``GAIN * x + OFFSET`` plus Gaussian noise of standard deviation ``NOISE``.
GAIN, OFFSET, NOISE = 3.0, 1.0, 0.5


class _Block(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        return torch.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


class DigitsResNet(nn.Module):
    """A residual CNN for 8x8 digits: input ``(N, 1, 8, 8)`` float32, output ``(N, 10)`` logits. 38,266 weights."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1, bias=False), nn.BatchNorm2d(16), nn.ReLU())
        self.blocks = nn.Sequential(_Block(16, 16, 1), _Block(16, 32, 2), _Block(32, 32, 1))
        self.fc = nn.Linear(32, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.blocks(self.stem(x))
        logits: torch.Tensor = self.fc(torch.flatten(nn.functional.adaptive_avg_pool2d(x, 1), 1))
        return logits


def shifted_digits(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """``images`` (``(N, 1, 8, 8)`` float32 in [0, 1]) as the production scanner delivers them:
    ``GAIN * x + OFFSET + noise`` (Gaussian, ``NOISE``), the noise drawn from ``seed``. Float32, same shape."""
    x = np.asarray(images, dtype=np.float32)
    noise = np.random.default_rng(seed).normal(0.0, NOISE, size=x.shape).astype(np.float32)
    return (GAIN * x + OFFSET + noise).astype(np.float32)


def _augment(batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Scanner variation: each image gets a random gain (0.5-4), offset (-0.5-1) and noise (sigma 0-0.7)."""
    n = len(batch)
    gain = 0.5 + 3.5 * torch.rand(n, 1, 1, 1, generator=generator)
    offset = -0.5 + 1.5 * torch.rand(n, 1, 1, 1, generator=generator)
    sigma = 0.7 * torch.rand(n, 1, 1, 1, generator=generator)
    return gain * batch + offset + sigma * torch.randn(batch.shape, generator=generator)


def train_digits_resnet(x_train: np.ndarray, y_train: np.ndarray, seed: int = 0, epochs: int = 30) -> DigitsResNet:
    """Train a :class:`DigitsResNet` on ``x_train`` (clean digits), each batch with random scanner variation
    (Adam with a cosine learning-rate decay, batches of 64, one thread, deterministic algorithms: the same weights on every run on one CPU).
    Returns it in eval mode."""
    torch.manual_seed(seed)
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.use_deterministic_algorithms(True)
    try:
        x, y = torch.from_numpy(np.asarray(x_train, dtype=np.float32)), torch.from_numpy(np.asarray(y_train, np.int64))
        model = DigitsResNet()
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        steps = epochs * -(-len(x) // 64)
        # The learning rate decays to zero (cosine): training settles into one minimum, so a rebuild on another
        # CPU (other float rounding) ends at nearly the same weights and predicts like the committed model.
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            model.train()
            order = torch.randperm(len(x), generator=generator)
            for start in range(0, len(order), 64):
                idx = order[start : start + 64]
                optimizer.zero_grad()
                loss = nn.functional.cross_entropy(model(_augment(x[idx], generator)), y[idx])
                loss.backward()  # type: ignore[no-untyped-call]  # torch's Tensor.backward has no annotations
                optimizer.step()
                schedule.step()
    finally:
        torch.use_deterministic_algorithms(False)
        torch.set_num_threads(previous)
    return model.eval()


def load_digits_resnet() -> DigitsResNet:
    """The trained :class:`DigitsResNet` from ``data/digits_resnet.pt``, in eval mode."""
    model = DigitsResNet()
    model.load_state_dict(torch.load(data_path(WEIGHTS_FILE), weights_only=True))
    return model.eval()
