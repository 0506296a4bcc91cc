"""The course's models and data: the digits set, the small trained models in ``data/``, the PyTorch networks the
lessons export (EfficientNet-Lite0 with packaged ImageNet weights among them), packaged photos, and one-line
explanations of exporter failures.

* :mod:`~course_utils.models.nets`          PyTorch models the lessons export (ResNet-18, DigitsCNN); imports torch
* :mod:`~course_utils.models.data`          the digits dataset and the small trained models in ``data/``
* :mod:`~course_utils.models.torch_export`  one-line explanations of ``torch.onnx.export`` failures
* :mod:`~course_utils.models.tf_convert`    one-line explanations of tf2onnx failures (Keras 3)
* :mod:`~course_utils.models.registry`      the course models, registered once: key, display name, builder, example
  input, export options, cached exports (``artifacts/models/<key>-<options hash>.onnx``); ``register(...)`` adds one
* :mod:`~course_utils.models.photos`        crops of the photos scikit-learn ships (ResNet-18's batch norm, int8 data)
* :mod:`~course_utils.models.keras_export`  the Keras CNN to ONNX with tf2onnx, in a child process
* :mod:`~course_utils.models.export_options`  how a course model is exported, and its cached file's name
* :mod:`~course_utils.models.seqmodel`      lesson 09's waveform classifier (any length), its data and its export
  with a symbolic batch and length; imports torch when used
* :mod:`~course_utils.models.efficientnet`  EfficientNet-Lite0 with packaged ImageNet weights, labels,
  preprocessing, export (lesson 07); imports torch
* :mod:`~course_utils.models.photos`        photos shipped in packages, fixed calibration and evaluation crops
* :mod:`~course_utils.models.digits_resnet` a trained residual CNN and shifted digits: lesson 07's
  calibration-data trap; imports torch

``from course_utils.models import resnet18, DigitsCNN`` keeps working: the names of ``nets`` load on first use,
so importing ``course_utils.models.data`` does not import torch.

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths` and its own modules; of other parts only
:mod:`course_utils.runtime.sessions` (the one place sessions are made; it imports no part of the course), which
EfficientNet-Lite0's export uses to fold batch norm with ONNX Runtime's basic optimizations.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from course_utils.models.nets import BasicBlock, DigitsCNN, OpsetDemo, ResNet18, resnet18

__all__ = ["BasicBlock", "DigitsCNN", "OpsetDemo", "ResNet18", "resnet18"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("course_utils.models.nets"), name)
    raise AttributeError(f"module 'course_utils.models' has no attribute '{name}'")
