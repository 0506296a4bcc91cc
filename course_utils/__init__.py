"""course_utils: the helper library of the ONNX in Practice course.

Parts (subpackages), from the bottom layer up; each ``__init__`` says what it holds and which parts it may import:

* :mod:`course_utils.errors`, :mod:`course_utils.paths`  the errors a learner can cause (each with its fix); where
  data and generated artifacts live
* :mod:`course_utils.onnxfile`  loading and graph queries: load, graph, protobuf wire, tables, model cards, checks
  and parity, FLOPs, the pipeline diagram, the ONNX timeline
* :mod:`course_utils.models`    the digits data, the small trained models, the PyTorch networks the lessons export,
  EfficientNet-Lite0 with packaged ImageNet weights, packaged photos and their crops, exporter errors explained
* :mod:`course_utils.runtime`   run a model with ONNX Runtime, execution providers, profiles
* :mod:`course_utils.versions`  IR versions and runtime limits, the opset explorer, will this runtime run this model?
* :mod:`course_utils.bench`     timing harness, engines, reports and verdicts (``python -m course_utils.bench``)
* :mod:`course_utils.quantize`  int8 variants that fuse, calibration readers, size/speed/accuracy reports, int8
  logits judged against fp32's (``python -m course_utils.quantize``)
* :mod:`course_utils.views`     widgets and served pages: Netron, the static graph view, live benchmark, provider
  switcher, opset explorer, shape explorer
* :mod:`course_utils.lessons`   exercises: checks with feedback, hints and solutions, and each lesson's exercises
* :mod:`course_utils.classroom` ``./course hub`` (a JupyterHub workshop on this machine), each learner's progress
  records, and the instructor's class table

Command lines: ``python -m course_utils.inspect FILE``, ``python -m course_utils.compat MODEL``,
``python -m course_utils.providers``, ``python -m course_utils.bench``, ``python -m course_utils.quantize``,
``python -m course_utils.progress`` (a learner's progress; ``--class DIR…`` the instructor's table) and the
environment doctor ``python -m course_utils.setup_check``.

The most used names are also reachable from the package itself, e.g. ``course_utils.load_digits()``.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

# name -> module that defines it (relative to course_utils); loaded on first use so `import course_utils` stays fast
_LAZY: dict[str, str] = {
    "ARTIFACTS_DIR": "paths",
    "DATA_DIR": "paths",
    "artifact_path": "paths",
    "data_path": "paths",
    "relative_to_repo": "paths",
    "Digits": "models.data",
    "load_digits": "models.data",
    "load_digits_cnn": "models.data",
    "load_digits_keras": "models.data",
    "Exercise": "lessons.exercises",
    "Feedback": "lessons.exercises",
    "load_model": "onnxfile.modelio",
    "summarize": "onnxfile.inspect",
    "compare_cards": "onnxfile.inspect",
    "netron_view": "views.netron",
    "show_netron": "views.netron",
    "NetronView": "views.netron",
    "plot_timeline": "onnxfile.history",
    "benchmark": "bench.report",
    "load_target": "bench.targets",
    "measure": "bench.harness",
    "register_engine": "bench.engines",
    "Verdict": "bench.report",
    "speed_verdict": "bench.report",
    "budget_verdict": "bench.report",
    "machine_load": "machine",
    "usable_cpus": "machine",
    "count_flops": "onnxfile.flops",
    "ImageCalibrationReader": "quantize.calibration",
    "QuantConfig": "quantize.configs",
    "QuantReport": "quantize.report",
    "photo_crops": "quantize.calibration",
    "runtime_ops": "quantize.evaluate",
    "int8_case": "setup_check",
    "read_trace": "runtime.profiling",
    "live_benchmark": "views.bench_view",
    "LiveBenchmark": "views.bench_view",
    "pipeline": "onnxfile.diagrams",
    "Diagram": "onnxfile.diagrams",
    "run_onnx": "runtime.run",
    "make_session": "runtime.run",
    "available_providers": "runtime.run",
    "runtime_limits": "versions.limits",
    "limits_for": "versions.limits",
    "ORT_COMPATIBILITY": "versions.limits",
    "ir_version_issues": "versions.limits",
    "lower_ir_version": "versions.limits",
    "check_compatibility": "versions.compat",
    "schema_diff": "versions.opsets",
    "op_signature": "versions.opsets",
    "conversion_plan": "versions.opsets",
    "convert_at_opset": "versions.opsets",
    "export_at_opset": "versions.opsets",
    "opset_explorer": "views.opsets_view",
    "OpsetExplorer": "views.opsets_view",
    "provider_problem": "runtime.run",
    "PROVIDERS": "runtime.providers",
    "SwitchReport": "runtime.providers",
    "provider_table": "runtime.providers",
    "switch_provider": "runtime.providers",
    "provider_switcher": "views.provider_switch_view",
    "shape_explorer": "views.shapes_view",
    "ProviderSwitcher": "views.provider_switch_view",
    "check_model": "onnxfile.verify",
    "compare_outputs": "onnxfile.verify",
    "check_parity": "onnxfile.verify",
    "explain_export_errors": "models.torch_export",
    "explain_convert_errors": "models.tf_convert",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils' has no attribute '{name}'")
    return getattr(importlib.import_module(f".{module}", __name__), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = sorted(_LAZY)
