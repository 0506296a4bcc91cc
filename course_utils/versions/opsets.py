"""The opset explorer, headless: operator signatures per opset, what changed between two versions of an operator,
and what happens to a model at another opset (converted with ``onnx.version_converter`` or re-exported).

Everything reads onnx's own operator schemas (``onnx.defs.get_schema(op, opset)``,
``onnx.defs.get_all_schemas_with_history()``), so the answers are those of the installed onnx::

    from course_utils.versions.opsets import op_signature, schema_diff, conversion_plan, convert_at_opset
    print(schema_diff("ReduceMean", 13, 18))      # attribute 'axes' became an input
    print(conversion_plan("model.onnx", 13))      # per node: same, changes, or fails (and why)
    trial = convert_at_opset("model.onnx", 13)    # converted, checked, run and compared with the original
    print(trial)

:func:`export_at_opset` does the same for a PyTorch model exported at the opset (the robust way to change
opset). The code lives in two modules, re-exported here: :mod:`course_utils.versions.schemas` (operator
signatures and their changes) and :mod:`course_utils.versions.conversion` (models at another opset, the
explorer's view). Every result is a frozen dataclass that prints as deterministic text; the widget in
:mod:`course_utils.views.opsets_view` only displays them.
"""

from __future__ import annotations

from course_utils.versions.conversion import (
    ConversionPlan,
    Exploration,
    NodeChange,
    OpsetTrial,
    conversion_plan,
    convert_at_opset,
    demo_net,
    example_inputs,
    explore,
    export_at_opset,
    model_opset,
)
from course_utils.versions.schemas import (
    Attribute,
    OpSignature,
    Parameter,
    SchemaDiff,
    op_signature,
    op_versions,
    schema_diff,
)

__all__ = [
    "Attribute",
    "ConversionPlan",
    "Exploration",
    "NodeChange",
    "OpSignature",
    "OpsetTrial",
    "Parameter",
    "SchemaDiff",
    "conversion_plan",
    "convert_at_opset",
    "demo_net",
    "example_inputs",
    "explore",
    "export_at_opset",
    "model_opset",
    "op_signature",
    "op_versions",
    "schema_diff",
]
