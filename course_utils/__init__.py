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
* :mod:`course_utils.deploy`    shipping a model: Node.js and the npm packages (onnxruntime-web, onnxruntime-node),
  the classifier page onnxruntime-web runs in the browser, running models in Node.js, ORT format, a model server and
  its load test, the C library under every language binding, the CI gate (``python -m course_utils.gate``)
* :mod:`course_utils.views`     widgets and served pages: Netron, the static graph view, live benchmark, provider
  switcher, opset explorer, shape explorer
* :mod:`course_utils.lessons`   exercises: checks with feedback, hints and solutions, and each lesson's exercises
  (the models some exercises are about: :mod:`course_utils.lessons.exercise_models`)
* :mod:`course_utils.capstone`  the capstone's graded stages (notebook 12): rubric checks, hints, hidden solutions,
  the report card
* :mod:`course_utils.classroom` ``./course hub`` (a JupyterHub workshop on this machine), each learner's progress
  records, and the instructor's class table

Command lines: ``python -m course_utils.inspect FILE``, ``python -m course_utils.compat MODEL [--target web|node|…]``,
``python -m course_utils.providers``, ``python -m course_utils.bench``, ``python -m course_utils.quantize``,
``python -m course_utils.gate MODEL --reference REF.npz`` (a CI gate for a model),
``python -m course_utils.progress`` (a learner's progress; ``--class DIR…`` the instructor's table) and the
environment doctor ``python -m course_utils.setup_check``.

The most used names are also reachable from the package itself, e.g. ``course_utils.load_digits()``, and every
error a learner can cause: ``course_utils.CourseError`` and its subclasses (:mod:`course_utils.errors`). They load
on first use, so ``import course_utils`` stays fast; the ``TYPE_CHECKING`` imports below give type checkers and
IDEs their real types.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:  # what the lazy loader returns, for type checkers and IDEs (never run)
    from course_utils.bench.engines import register_engine
    from course_utils.bench.harness import measure
    from course_utils.bench.report import Verdict, benchmark, budget_verdict, speed_verdict
    from course_utils.bench.targets import load_target
    from course_utils.deploy.node import run_in_node
    from course_utils.deploy.npm import node_available, run_node
    from course_utils.errors import (
        CalibrationInputError,
        CourseError,
        ExportFailedError,
        ExternalDataMissingError,
        GateInputError,
        HubSetupError,
        InputMismatchError,
        KernelError,
        ModelFileNotFoundError,
        NetronPatchError,
        NodeNotFoundError,
        NotAModelTypeError,
        NotAnOnnxModelError,
        NotAProgressFileError,
        NotATraceError,
        NpmPackagesMissingError,
        OrtConversionError,
        ProviderUnavailableError,
        ServerError,
        UnknownConfigError,
        UnknownEngineError,
        UnknownModelError,
        UnknownPhotoError,
        UnknownStageError,
        UnsupportedIRVersionError,
        UnsupportedOpsetError,
        WeightsNotInstalledError,
    )
    from course_utils.lessons.exercises import Exercise, Feedback
    from course_utils.machine import machine_load, usable_cpus
    from course_utils.models.data import Digits, load_digits, load_digits_cnn, load_digits_keras
    from course_utils.models.photos import photo_crops
    from course_utils.models.registry import register as register_model
    from course_utils.models.tf_convert import explain_convert_errors
    from course_utils.models.torch_export import explain_export_errors
    from course_utils.onnxfile.diagrams import Diagram, pipeline
    from course_utils.onnxfile.flops import count_flops
    from course_utils.onnxfile.history import plot_timeline
    from course_utils.onnxfile.inspect import compare_cards, summarize
    from course_utils.onnxfile.modelio import load_model
    from course_utils.onnxfile.verify import check_model, check_parity, compare_outputs
    from course_utils.paths import ARTIFACTS_DIR, DATA_DIR, artifact_path, data_path, relative_to_repo
    from course_utils.quantize.calibration import ImageCalibrationReader
    from course_utils.quantize.configs import QuantConfig
    from course_utils.quantize.evaluate import runtime_ops
    from course_utils.quantize.report import QuantReport
    from course_utils.runtime.profiling import read_trace
    from course_utils.runtime.providers import PROVIDERS, SwitchReport, provider_table, switch_provider
    from course_utils.runtime.run import available_providers, make_session, provider_problem, run_onnx
    from course_utils.setup_check import int8_case
    from course_utils.versions.compat import check_compatibility
    from course_utils.versions.conversion import conversion_plan, convert_at_opset, export_at_opset
    from course_utils.versions.limits import (
        ORT_COMPATIBILITY,
        ir_version_issues,
        limits_for,
        lower_ir_version,
        runtime_limits,
    )
    from course_utils.versions.schemas import op_signature, schema_diff
    from course_utils.views.bench_view import LiveBenchmark, live_benchmark
    from course_utils.views.netron import NetronView, netron_view, show_netron
    from course_utils.views.opsets_view import OpsetExplorer, opset_explorer
    from course_utils.views.provider_switch_view import ProviderSwitcher, provider_switcher
    from course_utils.views.shapes_view import shape_explorer
    from course_utils.views.web_classifier import WebClassifier, web_classifier


# name -> module that defines it (relative to course_utils); loaded on first use so `import course_utils` stays fast
_LAZY: dict[str, str] = {
    "CourseError": "errors",
    "HubSetupError": "errors",
    "NotAProgressFileError": "errors",
    "KernelError": "errors",
    "CalibrationInputError": "errors",
    "ExportFailedError": "errors",
    "ExternalDataMissingError": "errors",
    "GateInputError": "errors",
    "InputMismatchError": "errors",
    "ModelFileNotFoundError": "errors",
    "NetronPatchError": "errors",
    "NodeNotFoundError": "errors",
    "NpmPackagesMissingError": "errors",
    "NotAModelTypeError": "errors",
    "NotATraceError": "errors",
    "NotAnOnnxModelError": "errors",
    "OrtConversionError": "errors",
    "ProviderUnavailableError": "errors",
    "ServerError": "errors",
    "UnknownConfigError": "errors",
    "UnknownEngineError": "errors",
    "UnknownModelError": "errors",
    "UnknownPhotoError": "errors",
    "UnknownStageError": "errors",
    "UnsupportedIRVersionError": "errors",
    "UnsupportedOpsetError": "errors",
    "WeightsNotInstalledError": "errors",
    "register_model": "models.registry",
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
    "photo_crops": "models.photos",
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
    "schema_diff": "versions.schemas",
    "op_signature": "versions.schemas",
    "conversion_plan": "versions.conversion",
    "convert_at_opset": "versions.conversion",
    "export_at_opset": "versions.conversion",
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
    "node_available": "deploy.npm",
    "run_node": "deploy.npm",
    "run_in_node": "deploy.node",
    "web_classifier": "views.web_classifier",
    "WebClassifier": "views.web_classifier",
}

# package name -> the defining module's name, where they differ
_RENAMED: dict[str, str] = {"register_model": "register"}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'course_utils' has no attribute '{name}'")
    attribute = _RENAMED.get(name, name)
    return getattr(importlib.import_module(f".{module}", __name__), attribute)


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "ARTIFACTS_DIR",
    "DATA_DIR",
    "ORT_COMPATIBILITY",
    "PROVIDERS",
    "CalibrationInputError",
    "CourseError",
    "Diagram",
    "Digits",
    "Exercise",
    "ExportFailedError",
    "ExternalDataMissingError",
    "Feedback",
    "GateInputError",
    "HubSetupError",
    "ImageCalibrationReader",
    "InputMismatchError",
    "KernelError",
    "LiveBenchmark",
    "ModelFileNotFoundError",
    "NetronPatchError",
    "NetronView",
    "NodeNotFoundError",
    "NotAModelTypeError",
    "NotAProgressFileError",
    "NotATraceError",
    "NotAnOnnxModelError",
    "NpmPackagesMissingError",
    "OpsetExplorer",
    "OrtConversionError",
    "ProviderSwitcher",
    "ProviderUnavailableError",
    "QuantConfig",
    "QuantReport",
    "ServerError",
    "SwitchReport",
    "UnknownConfigError",
    "UnknownEngineError",
    "UnknownModelError",
    "UnknownPhotoError",
    "UnknownStageError",
    "UnsupportedIRVersionError",
    "UnsupportedOpsetError",
    "Verdict",
    "WebClassifier",
    "WeightsNotInstalledError",
    "artifact_path",
    "available_providers",
    "benchmark",
    "budget_verdict",
    "check_compatibility",
    "check_model",
    "check_parity",
    "compare_cards",
    "compare_outputs",
    "conversion_plan",
    "convert_at_opset",
    "count_flops",
    "data_path",
    "explain_convert_errors",
    "explain_export_errors",
    "export_at_opset",
    "int8_case",
    "ir_version_issues",
    "limits_for",
    "live_benchmark",
    "load_digits",
    "load_digits_cnn",
    "load_digits_keras",
    "load_model",
    "load_target",
    "lower_ir_version",
    "machine_load",
    "make_session",
    "measure",
    "netron_view",
    "node_available",
    "op_signature",
    "opset_explorer",
    "photo_crops",
    "pipeline",
    "plot_timeline",
    "provider_problem",
    "provider_switcher",
    "provider_table",
    "read_trace",
    "register_engine",
    "register_model",
    "relative_to_repo",
    "run_in_node",
    "run_node",
    "run_onnx",
    "runtime_limits",
    "runtime_ops",
    "schema_diff",
    "shape_explorer",
    "show_netron",
    "speed_verdict",
    "summarize",
    "switch_provider",
    "usable_cpus",
    "web_classifier",
]  # the names of _LAZY: tests/test_public_api.py checks
