"""The model of lesson 07's exercise 07.2 (re-exported by :mod:`course_utils.lessons.lesson07`): SkipNet, a small
residual CNN, its fixed inputs, and its exported, pre-processed file."""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

from course_utils.paths import artifact_path

__all__ = ["skipnet", "skipnet_inputs", "skipnet_path"]

LESSON = "07"


def skipnet() -> Any:
    """SkipNet in eval mode: a small residual CNN (64x64 RGB in, 10 logits out), seeded weights."""
    import torch
    from torch import nn

    class Block(nn.Module):
        def __init__(self, channels: int) -> None:
            super().__init__()
            self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
            self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return torch.relu(x + self.conv2(torch.relu(self.conv1(x))))

    class SkipNet(nn.Module):
        """A small residual CNN: a stem, three residual blocks, a classifier (64x64 RGB in, 10 logits out)."""

        def __init__(self) -> None:
            super().__init__()
            self.stem = nn.Conv2d(3, 64, 3, stride=2, padding=1)
            self.blocks = nn.Sequential(Block(64), Block(64), Block(64))
            self.head = nn.Linear(64, 10)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            x = self.blocks(torch.relu(self.stem(x)))
            logits: torch.Tensor = self.head(x.mean(dim=(2, 3)))
            return logits

    torch.manual_seed(7)
    model = SkipNet().eval()
    with torch.no_grad():  # scale each block down so activations stay in a realistic range through the skips
        for block in model.blocks.children():
            block.conv2.weight.mul_(0.3)  # type: ignore[union-attr, operator]
    return model


def skipnet_inputs(n: int = 32) -> np.ndarray:
    """``n`` fixed 64x64 photo crops for SkipNet (the first 16 calibrate, all measure agreement)."""
    from course_utils.quantize import photo_crops

    return photo_crops(n, seed=11, size=64)


def skipnet_path() -> Path:
    """SkipNet exported and pre-processed (``quant_pre_process``): ``artifacts/07/skipnet_pre.onnx``."""
    import torch
    from onnxruntime.quantization import quant_pre_process

    pre = artifact_path("skipnet_pre.onnx", lesson=LESSON)
    if pre.exists():
        return pre
    raw = artifact_path("skipnet.onnx", lesson=LESSON)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            skipnet(),
            (torch.from_numpy(skipnet_inputs(1)),),
            str(raw),
            dynamo=False,
            opset_version=17,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        )
    from course_utils.quantize import quiet

    with quiet():
        quant_pre_process(str(raw), str(pre))
    return pre
