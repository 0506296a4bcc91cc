"""Helpers shared by the unit tests (a plain module: tests import it by name)."""

from __future__ import annotations

import warnings
from pathlib import Path


def export_digits_cnn(path: Path) -> Path:
    """Export the committed DigitsCNN the way lesson 04 does: legacy exporter, PyTorch's weight names kept,
    a dynamic batch. Returns ``path``."""
    import torch

    from course_utils import load_digits_cnn

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        torch.onnx.export(
            load_digits_cnn(),
            (torch.zeros(2, 1, 8, 8),),
            str(path),
            dynamo=False,
            do_constant_folding=False,
            input_names=["image"],
            output_names=["logits"],
            dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}},
        )
    return path
