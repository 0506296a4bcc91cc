"""Versions and compatibility: IR versions and lowering, each ONNX Runtime's limits, the opset explorer, and
"will this runtime run this model?".

* :mod:`~course_utils.versions.limits`  IR versions, lowering, runtime limits and the ORT compatibility table
* :mod:`~course_utils.versions.opsets`  the opset explorer (re-exports ``schemas`` and ``conversion``)
* :mod:`~course_utils.versions.schemas`  operator signatures per opset and what changed between two versions
* :mod:`~course_utils.versions.conversion`  a model at another opset: plans, conversions, re-exports, the explorer
* :mod:`~course_utils.versions.compat`  will this runtime run this model? (``python -m course_utils.compat MODEL
  [--target web|node|python|RELEASE]``)

``from course_utils.versions import runtime_limits`` keeps working: this package re-exports ``limits``'s public
names.

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.onnxfile`. ``conversion``
runs converted models through :mod:`course_utils.runtime` and gets the opset demo model from
:mod:`course_utils.models` (inside functions); ``limits`` and ``compat`` create sessions with
:mod:`course_utils.runtime.sessions` (inside functions, as ``runtime.run`` imports ``limits``); ``compat`` loads models in the npm packages with
:mod:`course_utils.deploy.node` (inside a function: ``deploy`` may import ``versions``).
"""

from __future__ import annotations

from course_utils.versions.limits import (
    JS_TENSOR_TYPES,
    NPM_RUNTIMES,
    ORT_COMPATIBILITY,
    RuntimeLimits,
    ir_version_issues,
    limits_for,
    lower_ir_version,
    runtime_limits,
)

__all__ = [
    "JS_TENSOR_TYPES",
    "NPM_RUNTIMES",
    "ORT_COMPATIBILITY",
    "RuntimeLimits",
    "ir_version_issues",
    "limits_for",
    "lower_ir_version",
    "runtime_limits",
]
