"""The rubric of stages 5-7: static QDQ int8 judged on photos calibration never saw, the chosen model in ORT
format, and the model's CI gate. Each checker raises :class:`~course_utils.lessons.exercises.NotYet` (what is
wrong and why, never the fix) or returns :class:`~course_utils.capstone.stages.Passed` with its numbers."""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import time
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import onnx

from course_utils.capstone.evidence import fixed_photos, load_answer, parity, run_file, session_for
from course_utils.capstone.stages import Passed
from course_utils.errors import first_line
from course_utils.lessons.exercises import NotYet, expect
from course_utils.onnxfile.render import format_bytes, measurement
from course_utils.paths import relative_to_repo

__all__ = [
    "BUDGET_FACTOR",
    "MIN_CALIBRATION",
    "MIN_CONFIDENT_AGREEMENT",
    "MIN_EVALUATION",
    "MIN_TOP5",
    "SABOTAGE",
    "check_gate",
    "check_int8",
    "check_ort",
    "median_latency_ms",
]

#: The rubric's floor for int8: top-1 agreement where fp32 is confident, and top-5 containment.
MIN_CONFIDENT_AGREEMENT, MIN_TOP5 = 0.95, 0.95
#: The fewest calibration and evaluation photos that support a conclusion.
MIN_CALIBRATION, MIN_EVALUATION = 16, 100
#: How far the gate's test model moves every logit: a gate must fail it.
SABOTAGE = 1.0
#: A latency budget above this many times the model's median latency would let a far slower model through.
BUDGET_FACTOR = 20.0

# ------------------------------------------------------------------------------------------------ stage 5


def _photos(images: Any, what: str) -> np.ndarray:
    """Photos as the model's input, float32 ``(N, 3, 224, 224)``: accepts RGB uint8 crops ``(N, 224, 224, 3)``."""
    from course_utils.models.efficientnet import preprocess

    expect(images is not None, f"no {what} photos yet: pass the images you used")
    array = np.asarray(images.detach().cpu().numpy() if hasattr(images, "detach") else images)
    if array.dtype == np.uint8 and array.ndim == 4 and array.shape[-1] == 3:
        array = preprocess(array)
    expect(
        array.ndim == 4 and array.shape[1:] == (3, 224, 224),
        f"the {what} photos are not a batch of 224x224 RGB images",
        got=f"{array.dtype}{list(array.shape)}",
    )
    return np.ascontiguousarray(array, dtype=np.float32)


def _fingerprints(batch: np.ndarray) -> list[str]:
    return [hashlib.sha1(np.round(image, 4).tobytes()).hexdigest() for image in batch]


def _logits(session: Any, batch: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [run_file(session, batch[i : i + 16], "the evaluation photos") for i in range(0, len(batch), 16)]
    )


def _quantization_kind(model: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in model.graph.node}


def check_int8(
    path: Any = None, fp32: Any = None, calibration: Any = None, evaluation: Any = None, why: Any = None
) -> Passed:
    """Stage 5: ``path`` is the int8 model to ship (static, QDQ), ``fp32`` the float model it was made from (it must
    still match eager PyTorch), ``calibration`` the photos it was calibrated on, ``evaluation`` other photos it is
    judged on against ``fp32``, ``why`` the reason it is the one to ship."""
    from course_utils.quantize.fidelity import compare_logits

    model, path = load_answer(path, "the path of the int8 .onnx file")
    ops = _quantization_kind(model)
    expect(
        not ops & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"},
        "the file quantizes activations while it runs",
        why="dynamic quantization measures each activation's range at run time; the stage ships a static model "
        "whose ranges were fixed from calibration photos, so every convolution can run in int8",
        got=", ".join(sorted(ops & {"DynamicQuantizeLinear", "MatMulInteger", "ConvInteger"})),
    )
    qoperator = sorted(o for o in ops if o.startswith("QLinear"))
    expect(
        not qoperator,
        "the file stores quantized operators in the QOperator format",
        why="the stage ships QDQ: the float graph with QuantizeLinear/DequantizeLinear pairs that each runtime fuses "
        "into its own int8 kernels (ONNX Runtime's documentation recommends it)",
        got=", ".join(qoperator[:3]),
    )
    expect(
        {"QuantizeLinear", "DequantizeLinear"} <= ops,
        "the file has no QuantizeLinear/DequantizeLinear pairs",
        why="without them nothing runs in int8: it is still a float model",
    )
    calib = _photos(calibration, "calibration")
    evals = _photos(evaluation, "evaluation")
    expect(
        len(calib) >= MIN_CALIBRATION,
        f"calibration used {len(calib)} photos",
        why="each activation's range comes from the calibration photos; a handful misses the ranges real photos reach",
        expected=f"at least {MIN_CALIBRATION}",
    )
    expect(
        len(evals) >= MIN_EVALUATION,
        f"the evaluation set has {len(evals)} photos",
        why="agreement measured on so few photos moves by whole percentage points with one photo",
        expected=f"at least {MIN_EVALUATION}",
    )
    shared = set(_fingerprints(calib)) & set(_fingerprints(evals))
    expect(
        not shared,
        f"{len(shared)} of the evaluation photos were also calibration photos",
        why="calibration fits the activation ranges to the photos it sees; judged on those same photos the int8 model "
        "looks better than it will on new ones",
        expected="no photo in both sets",
        got=f"{len(shared)} shared",
    )
    criteria = ("confident", "top-5", "top 5", "agree", "size", "mb", "margin", "smaller", "faster", "accura")
    expect(
        isinstance(why, str) and any(word in why.lower() for word in criteria),
        "the choice comes without a reason that rests on what you measured",
        why="shipping a quantized model is a trade-off: say which of the numbers you measured decided it",
        got=repr(why)[:80] if why is not None else "no reason given",
    )
    _, fp32_path = load_answer(fp32, "the path of the fp32 .onnx model the int8 one was made from")
    parity(fp32_path)
    evals = evals[:240]
    reference = _logits(session_for(fp32_path), evals)
    quality = compare_logits(reference, _logits(session_for(path), evals))
    expect(
        quality.n_confident >= 20,
        f"fp32 is confident on only {quality.n_confident} of the evaluation photos",
        why="agreement where fp32 is sure is the measure that matters; it needs enough such photos",
    )
    expect(
        quality.top1_agreement_confident >= MIN_CONFIDENT_AGREEMENT,
        "the int8 model changes the answer on photos where fp32 was confident",
        why="int8 noise may break near ties, but a clear winner must stay the winner: this configuration adds more "
        "noise than the model tolerates",
        expected=f"top-1 agreement >= {MIN_CONFIDENT_AGREEMENT:.0%} where fp32's margin >= {quality.confident_margin:g}",
        got=f"{quality.top1_agreement_confident:.1%} on {quality.n_confident} photos",
    )
    expect(
        quality.top5_contains >= MIN_TOP5,
        "the int8 model's top class is often outside fp32's top 5",
        why="where int8 changes the answer it should pick a class fp32 also rated highly",
        expected=f">= {MIN_TOP5:.0%}",
        got=f"{quality.top5_contains:.1%}",
    )
    size = path.stat().st_size
    return Passed(
        f"{path.name}: static QDQ int8, judged on {len(evals)} photos calibration never saw",
        (
            ("top-1 agreement", f"{quality.top1_agreement:.1%} on {quality.n} photos"),
            (
                "where fp32 is confident",
                f"{quality.top1_agreement_confident:.1%} on {quality.n_confident} photos (margin >= "
                f"{quality.confident_margin:g})",
            ),
            ("int8 top-1 in fp32's top 5", f"{quality.top5_contains:.1%}"),
            ("size", f"{format_bytes(size)} (fp32 weights alone: {format_bytes(_fp32_weight_bytes())})"),
            ("why this one", str(why).strip()),
        ),
    )


@lru_cache(maxsize=1)
def _fp32_weight_bytes() -> int:
    from course_utils.capstone.evidence import reference_model

    return int(sum(p.numel() * 4 for p in reference_model().state_dict().values() if p.dtype.is_floating_point))


# ------------------------------------------------------------------------------------------------ stage 6


def check_ort(path: Any = None, source: Any = None) -> Passed:
    """Stage 6: ``path`` is the ``.ort`` file (ORT format) converted from ``source``, the ``.onnx`` model chosen in
    stage 5; ONNX Runtime loads it and it gives ``source``'s answers on fixed photos."""
    from course_utils.deploy.ort_format import ORT_MAGIC

    expect(path is not None, "no ORT file yet: pass the path of the .ort file")
    expect(isinstance(path, str | os.PathLike), "pass the .ort file's path", got=type(path).__name__)
    ort_path = Path(path)
    if not ort_path.is_file():
        raise NotYet(f"there is no file at {relative_to_repo(ort_path)} yet", why="write the .ort file there first")
    head = ort_path.read_bytes()[:8]
    expect(
        head[4:8] == ORT_MAGIC,
        f"{ort_path.name} is not in ORT format",
        why="ORT format is a different serialization (FlatBuffers, identifier 'ORTM') that ONNX Runtime's minimal "
        "and mobile builds read; a protobuf file keeps its format whatever its name",
        got=f"the first bytes are {head!r}",
    )
    source_model, source_path = load_answer(source, "the path of the .onnx model the .ort file was made from")
    batch = fixed_photos(8, 100)
    expected = run_file(session_for(source_path), batch, "8 photos")
    got = run_file(session_for(ort_path), batch, "8 photos")
    expect(
        got.shape == expected.shape,
        "the ORT file's output has another shape than the .onnx model's",
        got=f"{list(got.shape)} vs {list(expected.shape)}",
    )
    error = float(np.max(np.abs(got - expected)))
    same_top1 = bool((got.argmax(1) == expected.argmax(1)).all())
    expect(
        same_top1 and error <= 1e-3 * max(1.0, float(np.abs(expected).max())),
        "the ORT file does not give the .onnx model's answers",
        why="it was converted from another model than the one you chose to ship",
        got=f"max difference {error:.3g}; top-1 the same on {int((got.argmax(1) == expected.argmax(1)).sum())} of 8",
    )
    from course_utils.deploy.ort_format import read_ort_file

    info = read_ort_file(ort_path)
    quantized = any(n.op_type == "QuantizeLinear" for n in source_model.graph.node)
    return Passed(
        f"{ort_path.name}: ORT format {info.format_version}, same answers as {source_path.name}",
        (
            (
                "sizes",
                f".onnx {format_bytes(source_path.stat().st_size)}, .ort {format_bytes(ort_path.stat().st_size)}",
            ),
            ("model", "int8 (QDQ)" if quantized else "fp32"),
            ("ORT vs .onnx on 8 photos", f"top-1 identical, max difference {measurement(error)}"),
        ),
    )


# ------------------------------------------------------------------------------------------------ stage 7


def _read_reference(reference: Any) -> tuple[dict[str, np.ndarray], Path]:
    expect(reference is not None, "no reference yet: pass the path of the gate's reference file")
    expect(isinstance(reference, str | os.PathLike), "pass the reference file's path", got=type(reference).__name__)
    ref = Path(reference)
    if not ref.is_file():
        raise NotYet(f"there is no file at {relative_to_repo(ref)} yet", why="write the reference there first")
    try:
        with np.load(ref, allow_pickle=False) as stored:
            arrays = {k: np.asarray(stored[k]) for k in stored.files}
    except Exception as error:
        raise NotYet(f"{ref.name} is not a readable .npz file", got=first_line(error)[:120]) from None
    inputs = {k: v for k, v in arrays.items() if k.startswith("input:")}
    expect(
        bool(inputs) and any(k.startswith("output:") for k in arrays),
        "the reference holds no input and output arrays the gate can read",
        why="the gate runs the model on the stored inputs and compares with the stored outputs",
        got=", ".join(sorted(arrays)[:4]) or "no arrays",
    )
    return inputs, ref


def _sabotaged(model_path: Path, folder: Path) -> Path:
    """A copy of the model whose first output is moved by :data:`SABOTAGE` everywhere: a broken model to gate."""
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path))
    output = model.graph.output[0].name
    raw = output + "_before_sabotage"
    for node in model.graph.node:
        node.output[:] = [raw if o == output else o for o in node.output]
    model.graph.initializer.append(numpy_helper.from_array(np.array(SABOTAGE, np.float32), "sabotage_shift"))
    model.graph.node.append(helper.make_node("Add", [raw, "sabotage_shift"], [output]))
    target = folder / model_path.name
    onnx.save(model, str(target))
    return target


def median_latency_ms(model_path: Path, inputs: dict[str, np.ndarray]) -> float:
    """The median of 9 timed runs (after 3 warm-ups) of ``model_path`` on a reference's ``input:<name>`` arrays."""
    session = session_for(model_path)
    feed = {k.removeprefix("input:"): v for k, v in inputs.items()}
    for _ in range(3):
        session.run(None, feed)
    times = []
    for _ in range(9):
        start = time.perf_counter()
        session.run(None, feed)
        times.append((time.perf_counter() - start) * 1e3)
    return statistics.median(times)


def check_gate(
    model: Any = None,
    reference: Any = None,
    *,
    target: str = "python",
    budget_ms: float | None = None,
    atol: float = 1e-4,
) -> Passed:
    """Stage 7: the CI gate of the shipped model: ``model`` (its ``.onnx``), ``reference`` (an ``.npz`` of
    ``input:``/``output:`` arrays) and the gate's settings, as ``run_gate`` takes them. The gate must pass the
    model, guard the browser target, have a budget that means something, and fail a model whose logits moved."""
    from course_utils.deploy.gate import run_gate

    _, model_path = load_answer(model, "the path of the shipped .onnx model")
    inputs, ref = _read_reference(reference)
    photos = next(iter(inputs.values()))
    expect(
        photos.size > 0 and float(np.std(photos)) > 0.1,
        "the reference input is (nearly) constant",
        why="a model that ignores its input, or breaks on real photos, could still give the stored outputs",
        got=f"{photos.dtype}{list(photos.shape)}, standard deviation {float(np.std(photos)) if photos.size else 0:.3f}",
    )
    expect(
        target == "web",
        f"the gate checks the target {target!r}",
        why="the model ships to the browser; a file the browser cannot load must fail the gate",
    )
    expect(
        budget_ms is not None,
        "the gate has no latency budget",
        why="without one a model that became ten times slower would still pass",
    )
    try:
        report = run_gate(model_path, reference=ref, target=target, budget_ms=budget_ms, atol=atol)
    except Exception as error:  # GateInputError and the load errors: say what, without their advice
        raise NotYet("the gate cannot run with these settings", got=type(error).__name__) from None
    expect(
        report.passed,
        "the gate fails the model it is meant to ship",
        why="a gate that fails on a good model blocks every release; its reference or settings do not fit the model",
        got="; ".join(str(report.check(name)) for name in report.failed),
    )
    median = median_latency_ms(model_path, inputs)
    assert budget_ms is not None
    expect(
        budget_ms <= BUDGET_FACTOR * median,
        f"the budget is {budget_ms / median:.0f} times the model's median latency",
        why="a model that many times slower would still pass: the budget cannot catch a slowdown",
        expected=f"a budget at most {BUDGET_FACTOR:g} times the median you measure",
    )
    with tempfile.TemporaryDirectory() as tmp:
        broken = _sabotaged(model_path, Path(tmp))
        caught = run_gate(broken, reference=ref, target="python", budget_ms=budget_ms, atol=atol)  # parity is the point
    expect(
        not caught.passed,
        f"the gate passes a model whose every logit moved by {SABOTAGE:g}",
        why="a gate that passes a broken model cannot fail: its tolerance is wider than the damage it must catch",
        got=f"verdict {caught.verdict}",
    )
    return Passed(
        f"the gate passes {model_path.name} and fails a broken copy",
        (
            (
                "gate",
                f"{report.verdict}: {', '.join(c.name for c in report.checks)} (target {target}, atol {atol:g}, "
                f"budget {budget_ms:g} ms)",
            ),
            ("reference", f"{len(photos)} photos, {', '.join(k.removeprefix('input:') for k in inputs)}"),
            ("a copy with logits moved by 1", f"{caught.verdict} ({', '.join(caught.failed)})"),
        ),
    )
