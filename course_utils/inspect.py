"""``python -m course_utils.inspect FILE``: what an ONNX file holds, as a model card.

The code lives in :mod:`course_utils.onnxfile.inspect`; this module keeps the command and the import path
(``from course_utils.inspect import …``) that the lessons use. It re-exports that module's public names.
"""

from __future__ import annotations

import sys

from course_utils.onnxfile.inspect import (
    CardChanges,
    ExternalTensor,
    FunctionInfo,
    InitializerInfo,
    ModelCard,
    ProtoField,
    SubgraphInfo,
    ValueInfo,
    compare_cards,
    dtype_name,
    format_bytes,
    initializer_sizes,
    main,
    op_histogram,
    parameter_count,
    protobuf_fields,
    summarize,
)

__all__ = [
    "CardChanges",
    "ExternalTensor",
    "FunctionInfo",
    "InitializerInfo",
    "ModelCard",
    "ProtoField",
    "SubgraphInfo",
    "ValueInfo",
    "compare_cards",
    "dtype_name",
    "format_bytes",
    "initializer_sizes",
    "main",
    "op_histogram",
    "parameter_count",
    "protobuf_fields",
    "summarize",
]

if __name__ == "__main__":
    sys.exit(main())
