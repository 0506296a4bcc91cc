"""The capstone's scenario: the release script a team runs on every exported model before it ships.

:func:`stamp_release` rebuilds the model with ``onnx.helper.make_model`` to stamp release metadata, as many
release scripts do. ``make_model`` writes the newest IR version the installed onnx knows (onnx 1.23: IR 14),
whatever the graph uses: the file then loads in Python's onnxruntime 1.32 (IR <= 14) and not in
onnxruntime-web 1.31 (IR <= 13). Stage 3 of the capstone finds this with the compatibility checker and fixes it.
"""

from __future__ import annotations

import os
from pathlib import Path

import onnx

__all__ = ["stamp_release"]


def stamp_release(model: str | os.PathLike[str], out: str | os.PathLike[str], version: str = "1.0.0") -> Path:
    """Write ``model`` to ``out`` as one file (weights inside), rebuilt with ``onnx.helper.make_model`` and stamped
    with ``producer_name="release-script"``, ``model_version`` and a ``release`` metadata entry. Returns ``out``."""
    source = onnx.load(str(model))
    released = onnx.helper.make_model(
        source.graph,
        opset_imports=list(source.opset_import),
        producer_name="release-script",
        model_version=1,
        doc_string=f"EfficientNet-Lite0, ImageNet classifier, release {version}",
    )
    onnx.helper.set_model_props(released, {"release": version})
    target = Path(out)
    target.parent.mkdir(parents=True, exist_ok=True)
    onnx.save(released, str(target))
    return target
