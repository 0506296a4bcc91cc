"""Versions and compatibility: IR versions and lowering, each ONNX Runtime's limits, the opset explorer, and
"will this runtime run this model?".

* :mod:`~course_utils.versions.limits`  IR versions, lowering, runtime limits and the ORT compatibility table
* :mod:`~course_utils.versions.opsets`  the opset explorer: operator schemas, diffs, conversion plans
* :mod:`~course_utils.versions.compat`  will this runtime run this model? (``python -m course_utils.compat MODEL``)

``from course_utils.versions import runtime_limits`` keeps working: this package re-exports ``limits``'s public
names.

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.onnxfile`. One exception
today: ``opsets`` runs converted models through :mod:`course_utils.runtime` (inside functions).
"""

from __future__ import annotations

from course_utils.versions.limits import (
    ORT_COMPATIBILITY,
    RuntimeLimits,
    ir_version_issues,
    limits_for,
    lower_ir_version,
    runtime_limits,
)

__all__ = [
    "ORT_COMPATIBILITY",
    "RuntimeLimits",
    "ir_version_issues",
    "limits_for",
    "lower_ir_version",
    "runtime_limits",
]
