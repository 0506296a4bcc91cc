"""course_utils: the helper library of the ONNX in Practice course.

Modules by concern (import the one you need; heavy frameworks load only when used):

* :mod:`course_utils.paths`      where data and generated artifacts live
* :mod:`course_utils.data`       the digits dataset and the small trained models in ``data/``
* :mod:`course_utils.models`     PyTorch models the lessons export (ResNet-18, DigitsCNN); imports torch
* :mod:`course_utils.graph`      one home for graph queries: dims, types (numpy names), inputs, walkers
* :mod:`course_utils.render`     plurals, byte sizes, and text/HTML tables from one list of rows
* :mod:`course_utils.protowire`  the protobuf wire reader (a file's first bytes, field by field)
* :mod:`course_utils.modelio`    load a model from a path, bytes or ModelProto, with one-line errors
* :mod:`course_utils.errors`     the errors a learner can cause, each with its fix
* :mod:`course_utils.inspect`    model cards: what a .onnx file holds (``python -m course_utils.inspect FILE``)
* :mod:`course_utils.netron`     ``show_netron(model)``: Netron's graph view in a notebook, with a static fallback
* :mod:`course_utils.netron_server` the local Netron server behind ``show_netron`` (patched: offline, no expiry)
* :mod:`course_utils.graph_view` the static (server-less) picture of a graph
* :mod:`course_utils.providers`  the execution-provider table and ``switch_provider`` (``python -m course_utils.providers``)
* :mod:`course_utils.provider_switch_view` the provider switcher widget (ipywidgets)
* :mod:`course_utils.runtime`    run a model with ONNX Runtime, with input checks and clear provider errors
* :mod:`course_utils.versions`   IR versions, lowering, runtime limits and the ORT compatibility table
* :mod:`course_utils.opsets`     the opset explorer: operator schemas, diffs, conversion plans (``opsets_view``: its widget)
* :mod:`course_utils.compat`     will this runtime run this model? (``python -m course_utils.compat MODEL``)
* :mod:`course_utils.bench`      timing harness, engines, tables (``python -m course_utils.bench``); ``bench_view``: live plots
* :mod:`course_utils.flops`      FLOPs counted from the ONNX graph (Conv, Gemm, MatMul)
* :mod:`course_utils.profiling`  read ONNX Runtime profiles: time per op type, slowest nodes
* :mod:`course_utils.quantize`   int8 variants that fuse, calibration readers, size/speed/accuracy reports
* :mod:`course_utils.agreement`  int8 logits against fp32's: top-1 agreement (overall, where fp32 is sure), top-5, SQNR
* :mod:`course_utils.efficientnet` EfficientNet-Lite0 with packaged ImageNet weights, labels, preprocessing, export
* :mod:`course_utils.photos`     photos shipped in packages, fixed calibration and evaluation crops
* :mod:`course_utils.digits_resnet` a trained residual CNN and shifted digits: the calibration-data trap
* :mod:`course_utils.verify`     checker + shape inference reports, numeric parity reports
* :mod:`course_utils.torch_export` one-line explanations of torch.onnx.export failures
* :mod:`course_utils.tf_convert`  one-line explanations of tf2onnx failures (Keras 3)
* :mod:`course_utils.diagrams`   the pipeline picture as deterministic SVG, ``pipeline(highlight=...)``
* :mod:`course_utils.history`    the ONNX timeline, with sources
* :mod:`course_utils.exercises`  checks with feedback, hints and solutions
* :mod:`course_utils.lessons`    each lesson's exercises
* :mod:`course_utils.setup_check` the environment doctor (``python -m course_utils.setup_check``)

The most used names are also reachable from the package itself, e.g. ``course_utils.load_digits()``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it; loaded on first use so `import course_utils` stays fast
_LAZY: dict[str, str] = {
    "ARTIFACTS_DIR": "paths",
    "DATA_DIR": "paths",
    "artifact_path": "paths",
    "data_path": "paths",
    "relative_to_repo": "paths",
    "Digits": "data",
    "load_digits": "data",
    "load_digits_cnn": "data",
    "load_digits_keras": "data",
    "Exercise": "exercises",
    "Feedback": "exercises",
    "load_model": "modelio",
    "summarize": "inspect",
    "compare_cards": "inspect",
    "show_netron": "netron",
    "NetronView": "netron",
    "plot_timeline": "history",
    "benchmark": "bench",
    "load_target": "bench",
    "measure": "bench",
    "register_engine": "bench",
    "Verdict": "bench",
    "speed_verdict": "bench",
    "budget_verdict": "bench",
    "machine_load": "bench",
    "count_flops": "flops",
    "ImageCalibrationReader": "quantize",
    "QuantConfig": "quantize",
    "QuantReport": "quantize",
    "photo_crops": "quantize",
    "runtime_ops": "quantize",
    "int8_case": "setup_check",
    "read_trace": "profiling",
    "live_benchmark": "bench_view",
    "pipeline": "diagrams",
    "Diagram": "diagrams",
    "run_onnx": "runtime",
    "make_session": "runtime",
    "available_providers": "runtime",
    "runtime_limits": "versions",
    "limits_for": "versions",
    "ORT_COMPATIBILITY": "versions",
    "ir_version_issues": "versions",
    "lower_ir_version": "versions",
    "check_compatibility": "compat",
    "schema_diff": "opsets",
    "op_signature": "opsets",
    "conversion_plan": "opsets",
    "convert_at_opset": "opsets",
    "export_at_opset": "opsets",
    "OpsetExplorer": "opsets_view",
    "provider_problem": "runtime",
    "PROVIDERS": "providers",
    "SwitchReport": "providers",
    "provider_table": "providers",
    "switch_provider": "providers",
    "provider_switcher": "provider_switch_view",
    "check_model": "verify",
    "compare_outputs": "verify",
    "check_parity": "verify",
    "explain_export_errors": "torch_export",
    "explain_convert_errors": "tf_convert",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
