"""Quantization that actually speeds things up: build each int8 variant of a model, and report what ONNX Runtime
makes of it (which nodes are fused), how big it is, how accurate it stays and how fast it runs.

The calls a learner already knows from lesson 07 (``quant_pre_process``, ``quantize_dynamic``,
``quantize_static`` with a ``CalibrationDataReader``, ``ort.InferenceSession``), plus:

* :class:`ImageCalibrationReader` feeds a fixed set of images to ``quantize_static`` in batches;
  :func:`digits_reader` (the course's digits) and :func:`photo_crops` (224x224 crops of the two photos
  scikit-learn ships, the fixed image set for ResNet-18) give the data;
* :func:`prepare_model` exports a course model (``"digits_cnn"`` or ``"resnet18"``, from
  :mod:`course_utils.models.registry`) once and runs ``quant_pre_process`` on it; :func:`quantize` builds one
  :class:`QuantConfig` variant (cached under ``artifacts/quantize/``);
* :func:`op_counts` counts the operators in a file, :func:`runtime_ops` in the graph ONNX Runtime actually runs
  (after its QDQ fusions), and :func:`fusion` summarises the convolutions: how many run as ``QLinearConv``;
* :func:`accuracy`, :func:`agreement`, :func:`time_p50`, :func:`profile_by_op` and :func:`sensitivity`
  (``qdq_loss_debug``'s signal-to-quantization-noise ratio per tensor) measure a variant;
* :func:`compare` does all of it for every variant and returns a :class:`QuantReport` (one ``_rows()`` source
  for the text table, the HTML table and JSON); :func:`plot_tradeoff` draws latency vs accuracy;
* ``python -m course_utils.quantize resnet18`` prints the table from a terminal.

Speed is measured and printed, never asserted. Structural facts (fusion counts at a stated
``session.qdqisint8allowed`` setting, file sizes, rounded accuracies) are the same on every x86 or Arm CPU.

Modules, by concern: ``calibration`` (data, readers and the prepared fp32 models), ``configs`` (the variants and
:func:`quantize`), ``evaluate`` (operator counts, fusions, accuracy, timing, profiles, sensitivity), ``report``
(:func:`compare`, :class:`QuantReport`, the plot), ``fidelity`` (int8 logits against fp32's: top-1 agreement
overall and where fp32 is sure, top-5, SQNR), ``engines`` (the int8 variants as bench engines), ``cli``
(``python -m course_utils.quantize``). This package re-exports their public names.

May import: :mod:`course_utils.errors`, :mod:`course_utils.paths`, :mod:`course_utils.onnxfile`,
:mod:`course_utils.models` (the course-model registry), :mod:`course_utils.runtime` (sessions, profiles),
:mod:`course_utils.bench` (the harness and the engine registry). Bench never imports quantize.
"""

from __future__ import annotations

# The old module's public names, re-exported; ``X as X`` marks those it did not list in __all__.
from course_utils.quantize.calibration import BATCHNORM_SEED as BATCHNORM_SEED
from course_utils.quantize.calibration import CALIBRATION_SEED as CALIBRATION_SEED
from course_utils.quantize.calibration import EVALUATION_SEED as EVALUATION_SEED
from course_utils.quantize.calibration import (
    FOLDER,
    LESSON,
    QUANT_EXPORT,
    CalibrationInputError,
    ImageCalibrationReader,
    UnknownConfigError,
    course_torch_model,
    digits_reader,
    photo_crops,
    prepare_model,
    quiet,
)
from course_utils.quantize.calibration import INPUT_NAME as INPUT_NAME
from course_utils.quantize.calibration import CourseModel as CourseModel
from course_utils.quantize.cli import main
from course_utils.quantize.configs import CONFIGS, TUNED, QuantConfig, get_config, quantize
from course_utils.quantize.engines import register_bench_engines
from course_utils.quantize.evaluate import (
    Fusion,
    accuracy,
    agreement,
    fusion,
    op_counts,
    predict,
    profile_by_op,
    runtime_model,
    runtime_ops,
    sensitivity,
    time_p50,
    torch_p50,
)
from course_utils.quantize.report import QuantReport, VariantResult, compare, plot_tradeoff

__all__ = [
    "CONFIGS",
    "FOLDER",
    "LESSON",
    "QUANT_EXPORT",
    "TUNED",
    "CalibrationInputError",
    "Fusion",
    "ImageCalibrationReader",
    "QuantConfig",
    "QuantReport",
    "UnknownConfigError",
    "VariantResult",
    "accuracy",
    "agreement",
    "compare",
    "course_torch_model",
    "digits_reader",
    "fusion",
    "get_config",
    "main",
    "op_counts",
    "photo_crops",
    "plot_tradeoff",
    "predict",
    "prepare_model",
    "profile_by_op",
    "quantize",
    "quiet",
    "register_bench_engines",
    "runtime_model",
    "runtime_ops",
    "sensitivity",
    "time_p50",
    "torch_p50",
]
