"""Lesson 09's sequence model: a small 1-D convolutional classifier of waveforms of any length, its data and its
export with a symbolic batch and sequence length.

The task is made here, offline and deterministically: each signal is a sine, a square or a sawtooth wave (classes
0, 1, 2) of random period, phase and amplitude, with a little noise, at any length. The network (``new_seq_classifier()``) is three dilated
``Conv1d`` layers (no bias) with ReLU, a max over time and a linear head, so one set of weights reads a signal of
8 samples or 8,000: exactly what a symbolic length dimension is for. It trains in a few seconds on the CPU and
is cached in ``artifacts/models/``; it is the registered course model ``seq_classifier``
(:mod:`course_utils.models.registry`).

    from course_utils.models.seqmodel import load_seq_model, make_waveforms, export_seq_model
    model = load_seq_model()                       # trained once, then read from artifacts/models/
    x, y = make_waveforms(4, 100, seed=1)          # float32 [4, 100], int64 [4]
    path = export_seq_model()                      # artifacts/models/seq_classifier-<hash>.onnx, [batch, length]
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ..paths import artifact_path, build_once
from .export_options import FOLDER, SEQ_EXPORT, cached_name

__all__ = [
    "CLASSES",
    "MAX_LENGTH",
    "MIN_LENGTH",
    "export_seq_model",
    "load_seq_model",
    "make_waveforms",
    "new_seq_classifier",
    "pad_to",
    "train_seq_model",
]

#: The three waveform classes, in label order.
CLASSES = ("sine", "square", "sawtooth")
#: The lengths the exported model accepts (the ``Dim("length", min=..., max=...)`` of its export).
MIN_LENGTH, MAX_LENGTH = 8, 1024
_WEIGHTS = "seq_classifier.pt"
_ONNX = cached_name("seq_classifier", SEQ_EXPORT)  # the registry's file name for this export


def make_waveforms(count: int, length: int, *, seed: int = 0, noise: float = 0.1) -> tuple[np.ndarray, np.ndarray]:
    """``count`` signals of ``length`` samples (float32 ``[count, length]``) and their labels (int64 ``[count]``).

    Periods run from 6 to 24 samples, amplitudes from 0.5 to 1.5, phases anywhere; ``seed`` fixes everything.
    """
    if count < 1 or length < 1:
        raise ValueError(f"make_waveforms needs count >= 1 and length >= 1, got count={count}, length={length}")
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, len(CLASSES), size=count)
    period = rng.uniform(6.0, 24.0, size=(count, 1))
    phase = rng.uniform(0.0, 1.0, size=(count, 1))
    amplitude = rng.uniform(0.5, 1.5, size=(count, 1))
    cycles = np.arange(length)[None, :] / period + phase
    fraction = cycles - np.floor(cycles)
    waves = np.stack(
        [np.sin(2 * np.pi * cycles), np.where(fraction < 0.5, 1.0, -1.0), 2.0 * fraction - 1.0]
    )  # [3, count, length]
    signals = amplitude * waves[labels, np.arange(count)] + noise * rng.standard_normal((count, length))
    return signals.astype(np.float32), labels.astype(np.int64)


def pad_to(x: np.ndarray, length: int) -> np.ndarray:
    """``x`` (``[batch, n]``) padded with zeros at the end to ``length`` samples (what bucketing does)."""
    if length < x.shape[1]:
        raise ValueError(f"cannot pad {x.shape[1]} samples to a shorter length {length}")
    return np.pad(x, ((0, 0), (0, length - x.shape[1])))


def _module_class() -> Any:
    import torch

    class SeqClassifier(torch.nn.Module):
        """Three dilated Conv1d layers (16 channels, no bias) + ReLU, a max over time, a linear head to 3 classes.

        ``forward(x)`` takes float32 ``[batch, length]`` and returns logits ``[batch, 3]``.
        """

        def __init__(self, channels: int = 16) -> None:
            super().__init__()
            self.conv1 = torch.nn.Conv1d(1, channels, 5, padding=2, bias=False)
            self.conv2 = torch.nn.Conv1d(channels, channels, 5, padding=4, dilation=2, bias=False)
            self.conv3 = torch.nn.Conv1d(channels, channels, 5, padding=8, dilation=4, bias=False)
            self.head = torch.nn.Linear(channels, len(CLASSES))

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = torch.relu(self.conv1(x.unsqueeze(1)))
            h = torch.relu(self.conv2(h))
            h = torch.relu(self.conv3(h))
            logits: torch.Tensor = self.head(h.amax(dim=2))
            return logits

    return SeqClassifier


def new_seq_classifier(channels: int = 16) -> Any:
    """A fresh, untrained ``SeqClassifier`` (a ``torch.nn.Module``): three dilated Conv1d layers (no bias) + ReLU,
    a max over time, a linear head to 3 classes; ``forward(x)`` maps float32 ``[batch, length]`` to ``[batch, 3]``.
    Imports torch."""
    return _module_class()(channels)


def train_seq_model(*, steps: int = 300, seed: int = 0) -> Any:
    """Train a fresh :class:`SeqClassifier` (a few seconds on a CPU): batches of 32 signals of random length 16 to
    160, a third of them padded with zeros at the end (so padding to a bucket changes little). Returns it in eval()."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same sums in the same order, so the same weights on every run
    try:
        return _train(torch, steps, seed)
    finally:
        torch.set_num_threads(threads)


def _train(torch: Any, steps: int, seed: int) -> Any:
    torch.manual_seed(seed)
    model = new_seq_classifier()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    rng = np.random.default_rng(seed)
    model.train()
    for step in range(steps):
        length = int(rng.integers(16, 161))
        x, y = make_waveforms(32, length, seed=10_000 + step)
        if step % 3 == 0:
            x = pad_to(x, length + int(rng.integers(1, 64)))
        loss = torch.nn.functional.cross_entropy(model(torch.from_numpy(x)), torch.from_numpy(y))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return model.eval()


def load_seq_model(*, retrain: bool = False) -> Any:
    """The trained :class:`SeqClassifier`: trained on first use (a few seconds), then loaded from
    ``artifacts/models/seq_classifier.pt``."""
    import torch

    path = artifact_path(_WEIGHTS, lesson=FOLDER)
    trained: list[Any] = []

    def train(partial: Path) -> None:
        trained.append(train_seq_model())
        torch.save(trained[0].state_dict(), partial)

    build_once(path, train, force=retrain)  # once, whichever process asks first; never half a file
    if trained:
        return trained[0]
    model = new_seq_classifier()
    model.load_state_dict(torch.load(path, weights_only=True))
    return model.eval()


def export_seq_model(path: str | Path | None = None, *, model: Any = None, force: bool = False) -> Path:
    """Export the sequence model with ``torch.onnx.export(..., dynamo=True)``, input ``x`` as
        ``float32[batch, length]`` (``Dim("batch", min=1, max=256)``, ``Dim("length", min=8, max=1024)``), output
        ``logits`` as ``float32[batch, 3]``. Without ``path`` it writes the registry's cached file (``artifacts/models/``) once and
    reuses it (``force=True`` exports again); a ``path`` given is always written. Returns the file's path."""
    import logging

    import torch

    if path is None:  # the registry's cached file: once, atomically (another process may ask at the same time)
        cached = artifact_path(_ONNX, lesson=FOLDER)
        return build_once(cached, lambda partial: export_seq_model(partial, model=model), force=force)
    target = Path(path)
    module = model if model is not None else load_seq_model()
    batch = torch.export.Dim("batch", min=1, max=256)
    length = torch.export.Dim("length", min=MIN_LENGTH, max=MAX_LENGTH)
    example = torch.from_numpy(make_waveforms(2, 64, seed=0)[0])
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation notes from inside torch.export
        torch.onnx.export(
            module,
            (example,),
            target,
            input_names=["x"],
            output_names=["logits"],
            dynamic_shapes={"x": {0: batch, 1: length}},
            external_data=False,
            verbose=False,
        )
    return target
