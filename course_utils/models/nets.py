"""PyTorch models the lessons export. Defined here (not imported from torchvision) so the course needs
nothing beyond ``torch`` and every lesson builds the same architecture.

Importing this module imports torch; the rest of ``course_utils`` does not.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["BasicBlock", "DigitsCNN", "OpsetDemo", "ResNet18", "resnet18"]


class DigitsCNN(nn.Module):
    """A small CNN for scikit-learn's 8x8 digits: input ``(N, 1, 8, 8)`` float32 in [0, 1], output logits ``(N, 10)``."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 16, kernel_size=3, padding=1),
            nn.BatchNorm2d(16),
            nn.ReLU(),
            nn.Conv2d(16, 32, kernel_size=3, padding=1),
            nn.BatchNorm2d(32),
            nn.ReLU(),
            nn.MaxPool2d(2),  # 8x8 -> 4x4
        )
        self.classifier = nn.Sequential(nn.Flatten(), nn.Linear(32 * 4 * 4, 64), nn.ReLU(), nn.Linear(64, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits: torch.Tensor = self.classifier(self.features(x))
        return logits


class BasicBlock(nn.Module):
    """ResNet's two-conv residual block (He et al., 2016), as in torchvision's ``resnet18``."""

    expansion = 1

    def __init__(self, in_planes: int, planes: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_planes, planes, 3, stride=stride, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(planes)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(planes, planes, 3, stride=1, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(planes)
        self.downsample: nn.Module | None = None
        if stride != 1 or in_planes != planes:
            self.downsample = nn.Sequential(
                nn.Conv2d(in_planes, planes, 1, stride=stride, bias=False), nn.BatchNorm2d(planes)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        activated: torch.Tensor = self.relu(out + identity)
        return activated


class ResNet18(nn.Module):
    """ResNet-18 with torchvision's layer names and shapes: input ``(N, 3, H, W)``, output ``(N, num_classes)``."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 64, kernel_size=7, stride=2, padding=3, bias=False)
        self.bn1 = nn.BatchNorm2d(64)
        self.relu = nn.ReLU(inplace=True)
        self.maxpool = nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
        self.layer1 = self._make_layer(64, 64, stride=1)
        self.layer2 = self._make_layer(64, 128, stride=2)
        self.layer3 = self._make_layer(128, 256, stride=2)
        self.layer4 = self._make_layer(256, 512, stride=2)
        self.avgpool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(512, num_classes)

    @staticmethod
    def _make_layer(in_planes: int, planes: int, stride: int) -> nn.Sequential:
        return nn.Sequential(BasicBlock(in_planes, planes, stride), BasicBlock(planes, planes, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        logits: torch.Tensor = self.fc(torch.flatten(self.avgpool(x), 1))
        return logits


def resnet18(num_classes: int = 1000, seed: int | None = 0) -> ResNet18:
    """A ResNet-18 in eval mode with seeded random weights (no download: the course runs offline).

    Exporting needs the architecture, not ImageNet weights; numbers are reproducible thanks to ``seed``.
    """
    if seed is not None:
        torch.manual_seed(seed)
    return ResNet18(num_classes).eval()


class OpsetDemo(nn.Module):
    """Split, Clip, Resize, ReduceMean and Squeeze: the operators whose signatures changed most. Its export
    changes with the opset: ``torch.split`` (Split), ``torch.clamp`` (Clip), ``interpolate`` (Upsample/Resize),
    ``mean`` (ReduceMean) and ``squeeze`` (Squeeze). Input: a float tensor of shape ``[N, 4, H, W]``."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        a, b = torch.split(x, 2, dim=1)
        y = torch.clamp(a, 0.0, 6.0)
        y = torch.nn.functional.interpolate(y, scale_factor=2.0, mode="nearest")
        pooled = y.mean(dim=(2, 3), keepdim=True).squeeze(3)
        return (pooled + b.mean(dim=(2, 3)).unsqueeze(2)).squeeze(2)
