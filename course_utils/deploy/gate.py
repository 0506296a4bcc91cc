"""A CI gate for a model: the checks a model must pass before it ships, one line each, and a verdict.

In a notebook or a test::

    from course_utils.deploy.gate import run_gate, write_reference
    write_reference("model.onnx", {"x": batch}, "model.reference.npz")   # once, from a model you trust
    report = run_gate("model.onnx", reference="model.reference.npz", target="python", budget_ms=5)
    print(report)            # one line per check, then the verdict
    report.exit_code         # 0 pass, 1 fail

From a shell (what a CI job runs)::

    python -m course_utils.gate model.onnx --reference model.reference.npz --target 1.17 --budget-ms 5

The checks, in order:

1. ``checker``: ``onnx.checker.check_model(path, full_check=True)`` (structure, types, shape inference).
2. ``target``: :func:`course_utils.versions.compat.check_compatibility` for the target (``"python"``: the installed
   onnxruntime, loaded to be sure; a release number such as ``"1.17"``; other names the compatibility checker
   knows). Its ``cannot verify`` fails the gate: a gate passes only what it knows.
3. ``parity``: the model run on the reference's stored inputs gives its stored outputs within ``atol`` (max
   absolute difference per output; names, shapes and dtypes must match).
4. ``latency``: the median of a few timed runs on the reference inputs, after warm-up, compared with
   ``budget_ms``. The budget is the gate's owner's choice; without one the check is skipped, and says so.

The reference is an ``.npz`` file holding ``input:<name>`` and ``output:<name>`` arrays (:func:`write_reference`).
A model or reference that cannot be read, an unknown target or a budget that is not a positive number raise a
:class:`~course_utils.errors.GateInputError` (the command prints that one line and exits 2).
"""

from __future__ import annotations

import os
import statistics
import time
import warnings
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from course_utils.errors import GateInputError, InputMismatchError, first_line
from course_utils.onnxfile.modelio import load_model
from course_utils.onnxfile.render import measurement
from course_utils.paths import relative_to_repo

__all__ = ["FAIL", "PASS", "SKIP", "GateCheck", "GateReport", "read_reference", "run_gate", "write_reference"]

PASS, FAIL, SKIP = "PASS", "FAIL", "SKIP"
INPUT_PREFIX, OUTPUT_PREFIX = "input:", "output:"
WARMUP_RUNS, TIMED_RUNS = 3, 9
_CANNOT_RUN = "onnxruntime cannot run"


@dataclass(frozen=True)
class GateCheck:
    """One check: its ``name``, its ``status`` (PASS, FAIL or SKIP) and one line saying what was found."""

    name: str
    status: str
    detail: str

    def __str__(self) -> str:
        return f"{self.status} {self.name:<8} {self.detail}"


@dataclass(frozen=True)
class GateReport:
    """What the gate found for ``model_name`` against ``target``: one :class:`GateCheck` per check."""

    model_name: str
    target: str
    checks: tuple[GateCheck, ...]

    @property
    def failed(self) -> tuple[str, ...]:
        """The names of the checks that failed."""
        return tuple(c.name for c in self.checks if c.status == FAIL)

    @property
    def passed(self) -> bool:
        """True when no check failed."""
        return not self.failed

    @property
    def verdict(self) -> str:
        """``"PASS"`` when no check failed (skipped ones do not fail), else ``"FAIL"``."""
        return PASS if self.passed else FAIL

    @property
    def exit_code(self) -> int:
        """What the command exits with: 0 pass, 1 fail."""
        return 0 if self.passed else 1

    def check(self, name: str) -> GateCheck:
        """The check called ``name`` (``"checker"``, ``"target"``, ``"parity"``, ``"latency"``)."""
        return next(c for c in self.checks if c.name == name)

    def lines(self) -> list[str]:
        """One line per check, then the verdict (what the command prints)."""
        ran = sum(c.status != SKIP for c in self.checks)
        end = f"all {ran} checks run passed" if self.passed else f"failed: {', '.join(self.failed)}"
        return [*(str(c) for c in self.checks), f"verdict: {self.verdict} ({self.model_name}, {end})"]

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def __repr__(self) -> str:
        return str(self)


# ------------------------------------------------------------------------------------------------- reference


def _session(model: str | os.PathLike[str] | onnx.ModelProto) -> Any:
    from course_utils.runtime.sessions import create_session, session_options

    source = model.SerializeToString() if isinstance(model, onnx.ModelProto) else model
    return create_session(source, session_options(log_severity=4))


def write_reference(
    model: str | os.PathLike[str], feeds: Mapping[str, np.ndarray], path: str | os.PathLike[str]
) -> Path:
    """Run ``model`` on ``feeds`` with ONNX Runtime (CPU) and save the inputs and outputs to ``path`` (``.npz``:
    ``input:<name>`` and ``output:<name>`` arrays). Write it from a model you trust; the gate compares later
    models with it. The feed's names must be the model's inputs (``InputMismatchError`` says which differ)."""
    session = _session(model)
    wanted = [i.name for i in session.get_inputs()]
    if sorted(feeds) != sorted(wanted):
        raise InputMismatchError(
            f"the feed's names {sorted(feeds)} are not the model's inputs {wanted}: pass one array per input, by name"
        )
    arrays = {name: np.asarray(value) for name, value in feeds.items()}
    outputs = session.run(None, arrays)
    names = [o.name for o in session.get_outputs()]
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with target.open("wb") as handle:  # np.savez would append .npz to a name without it
        stored: dict[str, Any] = {f"{INPUT_PREFIX}{n}": a for n, a in arrays.items()}
        stored.update({f"{OUTPUT_PREFIX}{n}": np.asarray(a) for n, a in zip(names, outputs, strict=True)})
        np.savez(handle, **stored)
    return target


def read_reference(path: str | os.PathLike[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """The stored ``(inputs, outputs)`` of a reference file; :class:`GateInputError` when it is missing, not an
    ``.npz``, or holds no ``input:``/``output:`` arrays."""
    where = relative_to_repo(path)
    if not Path(path).is_file():
        raise GateInputError(
            f"no reference file at {where}: write one from a model you trust with write_reference(model, feeds, path)"
        )
    if not zipfile.is_zipfile(path):  # np.save's .npy, a text file: np.load's message would be about pickles
        raise GateInputError(
            f"{where} is not a .npz file (not a zip archive): write it with write_reference(model, feeds, path)"
        )
    try:
        with np.load(path, allow_pickle=False) as stored:
            arrays = {key: np.asarray(stored[key]) for key in stored.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as error:
        raise GateInputError(
            f"{where} is not a readable .npz reference ({first_line(error)[:120]}): write it again with write_reference"
        ) from None
    inputs = {k.removeprefix(INPUT_PREFIX): v for k, v in arrays.items() if k.startswith(INPUT_PREFIX)}
    outputs = {k.removeprefix(OUTPUT_PREFIX): v for k, v in arrays.items() if k.startswith(OUTPUT_PREFIX)}
    if not inputs or not outputs:
        raise GateInputError(
            f"{where} holds no 'input:<name>' and 'output:<name>' arrays (it has {sorted(arrays)[:4]}): "
            "write it with write_reference"
        )
    return inputs, outputs


# ------------------------------------------------------------------------------------------------- checks


def _checker(path: str) -> GateCheck:
    try:
        onnx.checker.check_model(path, full_check=True)
    except (onnx.checker.ValidationError, onnx.shape_inference.InferenceError, ValueError) as error:
        return GateCheck("checker", FAIL, f"onnx.checker.check_model(full_check=True): {first_line(error)[:200]}")
    return GateCheck("checker", PASS, "onnx.checker.check_model(full_check=True) accepts it")


def _target(path: str, target: str) -> GateCheck:
    from course_utils.versions.compat import COMPATIBLE, check_compatibility

    report = check_compatibility(path, None if target == "python" else target)
    runtime = f"onnxruntime {report.target.onnxruntime_version}"
    if report.verdict == COMPATIBLE:
        return GateCheck("target", PASS, f"{target}: compatible with {runtime}")
    problems = report.reasons or report.unverified
    first = problems[0].what if problems else report.verdict
    more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
    return GateCheck("target", FAIL, f"{target}: {report.verdict} with {runtime}: {first}{more}")


def _largest_difference(got: np.ndarray, want: np.ndarray) -> float:
    """The largest absolute difference; 0 for equal non-numbers, inf for unequal ones, nan where NaNs differ."""
    if not (got.size and np.issubdtype(got.dtype, np.number)):
        return 0.0 if np.array_equal(got, want) else float("inf")
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return float("nan")
    diff = np.abs(got.astype(np.float64) - want.astype(np.float64))
    return float(np.nanmax(diff)) if not np.isnan(diff).all() else 0.0


def _parity(
    session: Any, inputs: Mapping[str, np.ndarray], expected: Mapping[str, np.ndarray], atol: float
) -> GateCheck:
    names = [o.name for o in session.get_outputs()]
    if sorted(names) != sorted(expected):
        return GateCheck("parity", FAIL, f"the model's outputs {names} are not the reference's {sorted(expected)}")
    try:
        actual = dict(zip(names, session.run(None, dict(inputs)), strict=True))
    except Exception as error:  # ORT raises its own pybind types
        return GateCheck("parity", FAIL, f"{_CANNOT_RUN} the reference inputs: {first_line(error)[:200]}")
    worst = 0.0
    for name in names:
        got, want = np.asarray(actual[name]), expected[name]
        if got.shape != want.shape or got.dtype != want.dtype:
            return GateCheck(
                "parity",
                FAIL,
                f"output '{name}' is {got.dtype}{list(got.shape)}, the reference {want.dtype}{list(want.shape)}",
            )
        largest = _largest_difference(got, want)
        if not largest <= atol:  # nan fails too
            return GateCheck(
                "parity", FAIL, f"output '{name}' differs from the reference by {measurement(largest)} > atol {atol:g}"
            )
        worst = max(worst, largest)
    return GateCheck(
        "parity", PASS, f"{len(names)} output(s) within atol {atol:g} (max abs error {measurement(worst)})"
    )


def _latency(session: Any, inputs: Mapping[str, np.ndarray], budget_ms: float | None) -> GateCheck:
    if budget_ms is None:
        return GateCheck("latency", SKIP, "no budget given (--budget-ms): speed not checked")
    feed = dict(inputs)
    for _ in range(WARMUP_RUNS):
        session.run(None, feed)
    times = []
    for _ in range(TIMED_RUNS):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    median = statistics.median(times)
    status = PASS if median <= budget_ms else FAIL
    sign = "≤" if status == PASS else ">"
    return GateCheck(
        "latency", status, f"median of {TIMED_RUNS} runs {measurement(median)} ms {sign} budget {budget_ms:g} ms"
    )


def _validate(target: str, budget_ms: float | None, atol: float) -> None:
    if budget_ms is not None and not (isinstance(budget_ms, int | float) and budget_ms > 0):
        raise GateInputError(f"budget_ms must be a positive number of milliseconds, got {budget_ms!r}")
    if not (isinstance(atol, int | float) and atol >= 0):
        raise GateInputError(f"atol must be a number ≥ 0, got {atol!r}")
    if target != "python":
        from course_utils.versions.limits import limits_for

        try:
            limits_for(target)
        except ValueError as error:
            raise GateInputError(f"unknown target '{target}': {first_line(error)}") from None


def run_gate(
    model: str | os.PathLike[str],
    *,
    reference: str | os.PathLike[str],
    target: str = "python",
    budget_ms: float | None = None,
    atol: float = 1e-4,
) -> GateReport:
    """Run the gate's four checks on the file ``model`` (see the module docstring) and return the report.

    Raises :class:`GateInputError` (or the one-line load errors of :mod:`course_utils.onnxfile.modelio`) when the
    model or reference cannot be read, the target is unknown, or ``budget_ms``/``atol`` are not usable numbers."""
    _validate(str(target), budget_ms, atol)
    path = str(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        load_model(path)  # a missing file or one that is no model: the one-line errors, exit 2
    inputs, outputs = read_reference(reference)
    checks = [_checker(path), _target(path, str(target))]
    try:
        session = _session(path)
    except Exception as error:  # ORT raises its own pybind types
        why = f"onnxruntime cannot load it: {first_line(error)[:200]}"
        checks += [GateCheck("parity", FAIL, why), GateCheck("latency", SKIP if budget_ms is None else FAIL, why)]
    else:
        wanted = sorted(i.name for i in session.get_inputs())
        if wanted != sorted(inputs):
            why = f"the model's inputs {wanted} are not the reference's {sorted(inputs)}"
            checks += [GateCheck("parity", FAIL, why), GateCheck("latency", SKIP if budget_ms is None else FAIL, why)]
        else:
            parity = _parity(session, inputs, outputs, atol)
            if parity.detail.startswith(_CANNOT_RUN):
                checks += [parity, GateCheck("latency", SKIP if budget_ms is None else FAIL, parity.detail)]
            else:
                checks += [parity, _latency(session, inputs, budget_ms)]
    return GateReport(relative_to_repo(path), str(target), tuple(checks))
