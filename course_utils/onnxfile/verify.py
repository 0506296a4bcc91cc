"""Checking an export: is the file a valid ONNX model, and does it give the source framework's numbers?

* :func:`check_model` runs ``onnx.checker.check_model`` (full check) and strict shape inference and returns
  a :class:`CheckReport` (passed or not, each step's one-line result, the inferred input/output shapes).
* :func:`compare_outputs` compares reference outputs (PyTorch, TensorFlow, numpy) with ONNX Runtime's and
  returns a :class:`ParityReport`: per output the max absolute and relative error, the tolerance used
  (chosen from the dtype unless given) and pass/fail. Mismatched names, shapes, dtypes and NaNs are
  explained in the report instead of raising.
* :func:`check_parity` runs a model with :func:`course_utils.runtime.run_onnx` and compares in one call.
* :func:`ir_version_issues` and :func:`lower_ir_version` live in :mod:`course_utils.versions` (IR versions and
  runtime limits have their own module); they are importable from here too, as before.

Both reports print as aligned text and render as an HTML table in Jupyter; both are deterministic.
"""

from __future__ import annotations

import html
import math
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from course_utils.errors import InputMismatchError
from course_utils.onnxfile.graph import UNKNOWN, Dim, domain_label, graph_inputs, shape_text, type_text, value_type
from course_utils.onnxfile.modelio import ModelSource, external_data_files, load_model
from course_utils.onnxfile.render import html_table, measurement, text_table
from course_utils.runtime.run import ProviderSpec, SessionSource, run_onnx, to_numpy
from course_utils.versions.limits import (  # re-exported: their home is course_utils.versions
    ir_version_issues,
    lower_ir_version,
)

__all__ = [
    "DEFAULT_TOLERANCES",
    "CheckReport",
    "CheckStep",
    "OutputComparison",
    "ParityReport",
    "TensorInfo",
    "check_model",
    "check_parity",
    "compare_outputs",
    "default_tolerance",
    "ir_version_issues",
    "lower_ir_version",
    "tensor_info",
]

# (rtol, atol) per dtype. A float32 network's outputs typically differ by 1e-7..1e-5 between frameworks
# (different kernels sum in different orders); float16 keeps ~3 significant digits; integers must be equal.
DEFAULT_TOLERANCES: dict[str, tuple[float, float]] = {
    "float64": (1e-7, 1e-9),
    "float32": (1e-4, 1e-5),
    "float16": (1e-2, 1e-3),
    "bfloat16": (1e-2, 1e-2),
    "complex128": (1e-7, 1e-9),
    "complex64": (1e-4, 1e-5),
}

_PASS_RULE = "pass when |actual - expected| <= atol + rtol * |expected| for every element"


def default_tolerance(dtype: Any) -> tuple[float, float]:
    """``(rtol, atol)`` used for outputs of this dtype: float32 ``(1e-4, 1e-5)``, integers/bool ``(0, 0)``."""
    return DEFAULT_TOLERANCES.get(np.dtype(dtype).name, (0.0, 0.0))


def _num(value: float | None) -> str:
    """Numbers in reports: fixed width scientific (``3.1e-07``), so tables line up and outputs are stable."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf"
    return f"{value:.1e}"


def _one_line(error: BaseException) -> str:
    """The useful part of an onnx checker / shape inference message, on one line."""
    text = str(error).strip()
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    head = lines[0] if lines else type(error).__name__
    # "[ShapeInferenceError]" / "Inference error(s):" prefixes repeat what the step's name already says.
    head = re.sub(r"\[\w*Error\]\s*|^Inference error\(s\):\s*", "", head)
    context = next((ln.removeprefix("==> Context:").strip() for ln in lines[1:] if ln.startswith("==>")), "")
    return f"{head} ({context})" if context and context not in head else head


# ------------------------------------------------------------------------------------------ check_model


@dataclass(frozen=True)
class CheckStep:
    """One step of :func:`check_model`: its name, whether it passed, and a one-line detail."""

    name: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class TensorInfo:
    """A graph input or output: name, element type (``float32``) and shape (ints, symbolic names, None where unknown)."""

    name: str
    dtype: str
    shape: tuple[Dim, ...] | None

    @property
    def shape_text(self) -> str:
        """The shape as text: ``[batch, 1, 8, 8]`` (``?`` for an unknown dimension), or ``?`` when the rank is unknown."""
        return shape_text(self.shape)

    @property
    def type(self) -> str:
        """The type as every course helper prints it: ``float32[batch, 1, 8, 8]`` (the dtype alone when the rank is unknown)."""
        return self.dtype if self.shape is None else f"{self.dtype}{shape_text(self.shape)}"


@dataclass(frozen=True)
class CheckReport:
    """What :func:`check_model` found. ``passed`` is True when every step passed."""

    model_name: str
    steps: tuple[CheckStep, ...]
    inputs: tuple[TensorInfo, ...]
    outputs: tuple[TensorInfo, ...]
    ir_version: int
    opsets: dict[str, int] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        """True when every step passed."""
        return all(step.passed for step in self.steps)

    def __bool__(self) -> bool:
        return self.passed

    def _header(self) -> str:
        opsets = ", ".join(f"{d} {v}" for d, v in sorted(self.opsets.items()))
        return f"Check of {self.model_name}: {'PASSED' if self.passed else 'FAILED'} (IR version {self.ir_version}; opset {opsets})"

    def _rows(self) -> list[list[str]]:
        rows = [["ok" if s.passed else "FAIL", s.name, s.detail] for s in self.steps]
        rows += [["input", t.name, t.type] for t in self.inputs]
        rows += [["output", t.name, t.type] for t in self.outputs]
        return rows

    def __str__(self) -> str:
        return "\n".join(
            [self._header(), *("  " + ln for ln in text_table(self._rows(), ["", "step / tensor", "result"]))]
        )

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        flags = [s.passed for s in self.steps] + [None] * (len(self.inputs) + len(self.outputs))
        table = html_table(self._rows(), ["", "step / tensor", "result"], flags=flags)
        return f"<p><b>{html.escape(self._header())}</b></p>{table}"


def tensor_info(value: onnx.ValueInfoProto) -> TensorInfo:
    """Name, element type (numpy's name: ``float32``) and shape of a graph input/output (unknown dims as None)."""
    kind = value.type.WhichOneof("value")
    if kind != "tensor_type":
        return TensorInfo(value.name, type_text(value.type), None)
    dtype, dims = value_type(value)
    return TensorInfo(value.name, dtype or UNKNOWN, dims)


def check_model(model_or_path: ModelSource, *, full_check: bool = True) -> CheckReport:
    """Validate a model with ``onnx.checker.check_model`` and strict shape inference; never raises for an
    invalid model (the report says what is wrong in one line).

    Models with external data are checked by path (the checker reads the weights beside the file, and
    protobuf cannot hold more than 2 GiB in memory); shape inference only needs shapes, so it runs on the
    graph without loading external weights. A missing or unreadable file raises the one-line errors of
    :func:`course_utils.onnxfile.modelio.load_model`.
    """
    is_path = isinstance(model_or_path, str | os.PathLike)
    model = load_model(model_or_path, load_external_data=False)
    name = Path(model_or_path).name if isinstance(model_or_path, str | os.PathLike) else (model.graph.name or "model")
    steps: list[CheckStep] = []

    checker_name = "onnx.checker" + (" (full_check)" if full_check else "")
    external = external_data_files(model)
    target: ModelSource = str(model_or_path) if is_path and external else model
    if external and not is_path and any(t.data_location == onnx.TensorProto.EXTERNAL for t in model.graph.initializer):
        steps.append(
            CheckStep(
                checker_name,
                False,
                f"not checked: the weights are in {', '.join(external)}; check the model by its path so the "
                "checker can read them",
            )
        )
    else:
        try:
            onnx.checker.check_model(target, full_check=full_check)
            steps.append(CheckStep(checker_name, True, f"valid: {len(model.graph.node)} nodes"))
        except Exception as error:  # ValidationError, InferenceError (full_check) or a C++ error
            steps.append(CheckStep(checker_name, False, _one_line(error)))

    inferred = model
    try:
        inferred = onnx.shape_inference.infer_shapes(model, check_type=True, strict_mode=True, data_prop=True)
        # Exporters declare the shapes of the outputs (and often of every tensor), so reading them back proves
        # nothing: infer again with those declarations removed and see which outputs follow from the inputs.
        undeclared = onnx.ModelProto()
        undeclared.CopyFrom(model)
        del undeclared.graph.value_info[:]
        for output in undeclared.graph.output:
            if output.type.HasField("tensor_type"):
                output.type.tensor_type.ClearField("shape")
        derived = onnx.shape_inference.infer_shapes(undeclared, data_prop=True).graph.output
        unknown = [o.name for o in derived if tensor_info(o).shape is None]
        detail = (
            "consistent; every output shape follows from the inputs"
            if not unknown
            else f"consistent; no shape derived for: {', '.join(unknown)}"
        )
        steps.append(CheckStep("shape inference (strict)", True, detail))
    except Exception as error:
        steps.append(CheckStep("shape inference (strict)", False, _one_line(error)))

    return CheckReport(
        model_name=name,
        steps=tuple(steps),
        inputs=tuple(tensor_info(i) for i in graph_inputs(inferred.graph)),
        outputs=tuple(tensor_info(o) for o in inferred.graph.output),
        ir_version=model.ir_version,
        opsets={domain_label(o.domain): o.version for o in model.opset_import},
    )


# -------------------------------------------------------------------------------------- compare_outputs


@dataclass(frozen=True)
class OutputComparison:
    """One row of a :class:`ParityReport`. ``status`` is ``pass``, ``FAIL``, ``missing`` or ``extra``."""

    name: str
    status: str
    expected_shape: tuple[int, ...] | None = None
    actual_shape: tuple[int, ...] | None = None
    expected_dtype: str | None = None
    actual_dtype: str | None = None
    max_abs: float | None = None
    max_rel: float | None = None
    rtol: float | None = None
    atol: float | None = None
    tolerance_source: str = ""
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when this output was compared and is within tolerance."""
        return self.status == "pass"

    def _cells(self) -> list[str]:
        shape = self.expected_shape if self.expected_shape is not None else self.actual_shape
        shape_text = "-" if shape is None else str(tuple(shape))
        if (
            self.expected_shape is not None
            and self.actual_shape is not None
            and self.expected_shape != self.actual_shape
        ):
            shape_text = f"{tuple(self.expected_shape)} vs {tuple(self.actual_shape)}"
        dtype = self.expected_dtype or self.actual_dtype or "-"
        if self.expected_dtype and self.actual_dtype and self.expected_dtype != self.actual_dtype:
            dtype = f"{self.expected_dtype} vs {self.actual_dtype}"
        if self.rtol is None:
            tol = "-"
        elif self.rtol == 0 and self.atol == 0:
            tol = "exact"
        else:
            tol = f"{_num(self.rtol)}, {_num(self.atol)}"
        if self.tolerance_source and tol not in ("-", "exact"):
            tol += f" ({self.tolerance_source})"
        # Errors of an exact (integer, bool) comparison are facts and stay compared; float errors are measurements
        # whose last digits differ between CPUs, printed with the mark nbval masks (``≈3.1e-07``).
        error = _num if tol == "exact" else measurement
        return [self.name, shape_text, dtype, error(self.max_abs), error(self.max_rel), tol, self.status]


_HEADERS = ["output", "shape", "dtype", "max abs err", "max rel err", "rtol, atol", "result"]


@dataclass(frozen=True)
class ParityReport:
    """What :func:`compare_outputs` found: one :class:`OutputComparison` per output name."""

    outputs: tuple[OutputComparison, ...]
    notes: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        """True when there was something to compare and every output passed."""
        return bool(self.outputs) and all(o.passed for o in self.outputs)

    def __bool__(self) -> bool:
        return self.passed

    def __getitem__(self, name: str) -> OutputComparison:
        for output in self.outputs:
            if output.name == name:
                return output
        raise KeyError(f"No output '{name}' in this report; outputs: {', '.join(o.name for o in self.outputs)}")

    @property
    def max_abs(self) -> float | None:
        """The largest absolute error over all compared outputs (None when nothing could be compared)."""
        values = [o.max_abs for o in self.outputs if o.max_abs is not None]
        return max(values) if values else None

    def _header(self) -> str:
        compared = sum(o.max_abs is not None for o in self.outputs)
        verdict = "PASSED" if self.passed else "FAILED"
        return f"Parity: {verdict} ({compared} of {len(self.outputs)} output(s) compared)"

    def _note_lines(self) -> list[str]:
        lines = [f"- {n}" for n in self.notes]
        lines += [f"- {o.name}: {n}" for o in self.outputs for n in o.notes]
        return lines

    def __str__(self) -> str:
        rows = [o._cells() for o in self.outputs]
        lines = [self._header(), *text_table(rows, _HEADERS), *self._note_lines(), f"({_PASS_RULE})"]
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        table = html_table([o._cells() for o in self.outputs], _HEADERS, flags=[o.passed for o in self.outputs])
        notes = "".join(f"<li>{html.escape(n[2:])}</li>" for n in self._note_lines())
        notes_html = f"<ul>{notes}</ul>" if notes else ""
        return (
            f"<p><b>{html.escape(self._header())}</b></p>{table}{notes_html}"
            f"<p style='font-size:smaller'>({html.escape(_PASS_RULE)})</p>"
        )


def _as_named(value: Any, names: Sequence[str] | None, other: Any, side: str) -> tuple[dict[str, Any], bool]:
    """``value`` as ``{name: output}``; the flag says whether the names came from the value itself."""
    if isinstance(value, Mapping):
        return {str(k): v for k, v in value.items()}, True
    # A list of dicts is one output (scikit-learn's ZipMap), not one output per dict.
    items = list(value) if isinstance(value, list | tuple) and not _is_zipmap(value) else [value]
    if names is not None:
        if len(names) != len(items):
            raise InputMismatchError(
                f"names has {len(names)} entries but {side} has {len(items)} output(s): give one name per output, "
                "in order (or pass dicts {name: array} and leave names out)."
            )
        return dict(zip(names, items, strict=True)), False
    if isinstance(other, Mapping) and len(other) == len(items):
        return dict(zip([str(k) for k in other], items, strict=True)), False
    return {f"output_{i}": v for i, v in enumerate(items)}, False


def _shape_notes(expected: np.ndarray, actual: np.ndarray, rtol: float, atol: float) -> list[str]:
    e_shape, a_shape = tuple(expected.shape), tuple(actual.shape)
    notes = [f"shapes differ: expected {e_shape}, actual {a_shape}"]

    def matches(candidate: np.ndarray) -> bool:
        try:
            return bool(np.allclose(candidate.astype(np.float64), expected.astype(np.float64), rtol, atol, True))
        except (TypeError, ValueError):
            return bool(np.array_equal(candidate, expected))

    layouts = {4: (((0, 3, 1, 2), "NHWC", "NCHW"), ((0, 2, 3, 1), "NCHW", "NHWC")), 3: (((0, 2, 1), "NWC", "NCW"),)}
    for perm, actual_layout, expected_layout in layouts.get(actual.ndim, ()):
        if tuple(a_shape[i] for i in perm) == e_shape and e_shape != a_shape:
            verdict = "and the values match" if matches(actual.transpose(perm)) else "but the values still differ"
            notes.append(
                f"actual looks like {actual_layout} of an {expected_layout} expected: actual.transpose{perm} "
                f"has the expected shape {verdict}; transpose the input or output so both use one layout"
            )
            return notes
    if actual.size == expected.size and np.squeeze(actual).shape == np.squeeze(expected).shape:
        verdict = "the values match" if matches(actual.reshape(e_shape)) else "the values still differ"
        notes.append(f"they differ only by size-1 dimensions: after actual.reshape({e_shape}) {verdict}")
        return notes
    if actual.ndim == expected.ndim and actual.ndim > 0 and e_shape[1:] == a_shape[1:]:
        notes.append(
            f"the first (batch) dimension differs ({e_shape[0]} vs {a_shape[0]}): feed both the same inputs; "
            "if the ONNX model only accepts one size, its batch was frozen at export (use a dynamic batch)"
        )
        return notes
    if actual.size == expected.size:
        notes.append("same number of elements: check for a reshape or flatten missing on one side")
    return notes


def _is_zipmap(value: Any) -> bool:
    """A list of dicts ``{class: probability}``, what ONNX Runtime returns for skl2onnx's ZipMap output."""
    if isinstance(value, np.ndarray) and value.dtype == object and value.size:
        return isinstance(value.flat[0], Mapping)
    return isinstance(value, list | tuple) and bool(value) and all(isinstance(v, Mapping) for v in value)


def _zipmap_note(side: str) -> str:
    return (
        f"the {side} side is a list of dicts ({{class: probability}} per row), scikit-learn's ZipMap output: "
        "convert without it, to_onnx(model, ..., options={id(model): {'zipmap': False}}) in skl2onnx, to get a "
        f"(rows, classes) array; or compare np.array([[row[c] for c in sorted(row)] for row in {side}])"
    )


def _compare_one(name: str, expected: Any, actual: Any, rtol: float | None, atol: float | None) -> OutputComparison:
    zipmap = [side for side, value in (("expected", expected), ("actual", actual)) if _is_zipmap(value)]
    exp, act = to_numpy(expected), to_numpy(actual)
    base: dict[str, Any] = {
        "name": name,
        "expected_shape": tuple(exp.shape),
        "actual_shape": tuple(act.shape),
        "expected_dtype": exp.dtype.name,
        "actual_dtype": act.dtype.name,
    }
    notes: list[str] = []
    numeric = exp.dtype.kind in "biufc" and act.dtype.kind in "biufc"
    if not numeric:
        equal = exp.shape == act.shape and bool(np.array_equal(exp, act))
        notes.append("not numeric: compared for exact equality")
        if not equal:
            notes.extend(_zipmap_note(side) for side in zipmap)
        return OutputComparison(
            **base, status="pass" if equal else "FAIL", rtol=0.0, atol=0.0, tolerance_source="exact", notes=tuple(notes)
        )

    # The looser of the two dtypes' defaults: a float32 export cannot be held to float64's tolerance.
    looser = max(exp.dtype, act.dtype, key=lambda d: default_tolerance(d)[0])
    default = default_tolerance(looser)
    source = "given" if (rtol is not None or atol is not None) else f"{looser.name} default"
    rtol_used = default[0] if rtol is None else rtol
    atol_used = default[1] if atol is None else atol

    float_kinds = {exp.dtype.kind in "fc", act.dtype.kind in "fc"}
    dtype_ok = True
    if exp.dtype != act.dtype:
        if float_kinds == {True}:
            low, high = sorted([exp.dtype, act.dtype], key=lambda d: d.itemsize)
            which = "expected" if exp.dtype == high else "actual"
            notes.append(
                f"dtypes differ ({exp.dtype.name} vs {act.dtype.name}): the {which} side ran in {high.name}; "
                f"compared at {low.name} tolerance. For parity feed both the same {low.name} inputs "
                f"(x.astype(np.{low.name}); PyTorch: model.float())"
            )
        else:
            dtype_ok = False
            notes.append(
                f"dtypes differ in kind ({exp.dtype.name} vs {act.dtype.name}): one side returns "
                f"{'integers/bools' if exp.dtype.kind in 'biu' else 'floats'} and the other does not; "
                "compare the same output (e.g. logits with logits, labels with labels)"
            )

    if exp.shape != act.shape:
        notes.extend(_shape_notes(exp, act, rtol_used, atol_used))
        return OutputComparison(
            **base, status="FAIL", rtol=rtol_used, atol=atol_used, tolerance_source=source, notes=tuple(notes)
        )

    wide = np.complex128 if "c" in (exp.dtype.kind, act.dtype.kind) else np.float64
    e64, a64 = exp.astype(wide), act.astype(wide)
    e_nan, a_nan = np.isnan(e64), np.isnan(a64)
    both_nan = e_nan & a_nan
    if e_nan.any() or a_nan.any():
        if np.array_equal(e_nan, a_nan):
            notes.append(f"{int(both_nan.sum())} NaN(s) in both, at the same positions (treated as equal)")
        else:
            first = tuple(int(i) for i in np.argwhere(e_nan != a_nan)[0])
            notes.append(
                f"NaNs differ: expected has {int(e_nan.sum())}, actual has {int(a_nan.sum())} (first mismatch at "
                f"index {first}); look for a division by zero, log of 0 or overflow in the side with more"
            )
    with np.errstate(invalid="ignore", over="ignore"):
        same_inf = np.isinf(e64) & (e64 == a64)
        diff = np.abs(a64 - e64)
        diff = np.where(both_nan | same_inf, 0.0, diff)
        nan_mismatch = e_nan ^ a_nan
        # A NaN on one side only fails that element; the error columns report the finite differences.
        diff = np.where(nan_mismatch, 0.0, diff).real.astype(np.float64)
        any_inf = np.isinf(e64) | np.isinf(a64)
        magnitude = np.where(e_nan | any_inf, 0.0, np.abs(e64)).astype(np.float64)
        rel = np.where(magnitude > 0, diff / np.where(magnitude > 0, magnitude, 1.0), np.where(diff > 0, np.inf, 0.0))
        ok = (diff <= atol_used + rtol_used * magnitude) & ~nan_mismatch & (~any_inf | same_inf)
    max_abs = float(diff.max()) if diff.size else 0.0
    max_rel = float(rel.max()) if rel.size else 0.0
    passed = bool(ok.all()) and dtype_ok
    if not ok.all():
        bad = int((~ok).sum())
        badness = np.where(nan_mismatch, np.inf, np.where(ok, -1.0, diff))
        worst = tuple(int(i) for i in np.unravel_index(int(np.argmax(badness)), diff.shape))
        notes.append(
            f"{bad} of {diff.size} elements ({100 * bad / diff.size:.1f}%) outside tolerance; largest error at "
            f"index {worst}: expected {e64[worst]:.6g}, actual {a64[worst]:.6g}"
        )
    return OutputComparison(
        **base,
        status="pass" if passed else "FAIL",
        max_abs=max_abs,
        max_rel=max_rel,
        rtol=rtol_used,
        atol=atol_used,
        tolerance_source=source,
        notes=tuple(notes),
    )


def compare_outputs(
    expected: Any,
    actual: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    names: Sequence[str] | None = None,
) -> ParityReport:
    """Compare reference outputs (``expected``) with an exported model's (``actual``) and explain differences.

    Each side is a dict ``{name: array}``, a list/tuple of arrays, or a single array; PyTorch and TensorFlow
    tensors are converted with :func:`course_utils.runtime.to_numpy`. Dicts are matched by name; a list or
    single array is matched by position, named after ``names``, the other side's dict keys, or
    ``output_0, output_1, ...``.

    Tolerances default per dtype (:data:`DEFAULT_TOLERANCES`; integers and bools must be equal); ``rtol`` /
    ``atol`` override them. An output passes when ``|actual - expected| <= atol + rtol * |expected|`` for
    every element. Missing or extra names, different shapes (with a hint when a NCHW/NHWC transpose or a
    squeezed dimension would match), different dtypes and NaNs are explained in the report, never raised.
    """
    exp_named, exp_has_names = _as_named(expected, names, actual, "expected")
    act_named, act_has_names = _as_named(actual, names, expected, "actual")
    notes: list[str] = []
    rows: list[OutputComparison] = []
    if not exp_has_names and not act_has_names and len(exp_named) != len(act_named):
        notes.append(f"expected has {len(exp_named)} output(s) but actual has {len(act_named)}")
    missing = [n for n in exp_named if n not in act_named]
    extra = [n for n in act_named if n not in exp_named]
    if missing and extra and len(exp_named) == len(act_named):
        notes.append(
            "the two sides name their outputs differently; if they are the same outputs in the same order, "
            "compare by position: compare_outputs(list(expected.values()), list(actual.values()))"
        )
    for name, value in exp_named.items():
        if name in act_named:
            rows.append(_compare_one(name, value, act_named[name], rtol, atol))
        else:
            arr = to_numpy(value)
            rows.append(
                OutputComparison(
                    name,
                    "missing",
                    expected_shape=tuple(arr.shape),
                    expected_dtype=arr.dtype.name,
                    notes=(f"in expected but not in actual (actual has: {', '.join(act_named) or 'nothing'})",),
                )
            )
    for name in extra:
        arr = to_numpy(act_named[name])
        rows.append(
            OutputComparison(
                name,
                "extra",
                actual_shape=tuple(arr.shape),
                actual_dtype=arr.dtype.name,
                notes=(f"in actual but not in expected (expected has: {', '.join(exp_named) or 'nothing'})",),
            )
        )
    if not rows:
        notes.append("nothing to compare: both sides are empty")
    return ParityReport(tuple(rows), tuple(notes))


def check_parity(
    model_or_path: SessionSource,
    reference_outputs: Any,
    inputs: Any,
    *,
    rtol: float | None = None,
    atol: float | None = None,
    providers: Sequence[ProviderSpec] | None = None,
) -> ParityReport:
    """Run the ONNX model on ``inputs`` (see :func:`course_utils.runtime.run_onnx`) and compare its outputs
    with ``reference_outputs`` from the source framework (see :func:`compare_outputs`).

    A reference given as a list or single array is matched to the model's outputs by position.
    """
    actual = run_onnx(model_or_path, inputs, providers=providers)
    return compare_outputs(reference_outputs, actual, rtol=rtol, atol=atol)
