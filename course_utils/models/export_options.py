"""How a course model is exported (:class:`ExportOptions`) and where exports are cached: the bottom of the model
registry (:mod:`course_utils.models.registry`), importable by a model's own module without importing the registry."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

__all__ = ["FOLDER", "SEQ_EXPORT", "ExportOptions", "cached_name"]

#: The artifacts folder of exported course models (``artifacts/models/``), named by concern, not by lesson.
FOLDER = "models"


@dataclass(frozen=True)
class ExportOptions:
    """How a model is exported: ``opset`` (None: the exporter's default), ``constant_folding`` (False keeps
    BatchNormalization in the graph, as a model straight from a framework has it), a dynamic batch dimension,
    and the input/output names (``output_name=None``: the exporter's own)."""

    opset: int | None = None
    constant_folding: bool = False
    dynamic_batch: bool = True
    input_name: str = "image"
    output_name: str | None = "logits"

    def key(self) -> str:
        """A short stable hash of the options: the file name's suffix."""
        text = repr((self.opset, self.constant_folding, self.dynamic_batch, self.input_name, self.output_name))
        return hashlib.sha256(text.encode()).hexdigest()[:8]


def cached_name(key: str, options: ExportOptions) -> str:
    """The cached file's name of model ``key`` exported with ``options``: ``<key>-<options hash>.onnx``."""
    return f"{key}-{options.key()}.onnx"


#: Lesson 09's sequence model: input ``x`` with a symbolic batch and length, output ``logits`` (torch's dynamo
#: exporter; see :func:`course_utils.models.seqmodel.export_seq_model`).
SEQ_EXPORT = ExportOptions(input_name="x")
