"""The rubric of stages 5-7: static QDQ int8 judged on photos calibration never saw, the chosen model in ORT
format, and the model's CI gate. Each checker raises :class:`~course_utils.lessons.exercises.NotYet` (what is
wrong and why, never the fix) or returns :class:`~course_utils.capstone.stages.Passed` with its numbers."""

from __future__ import annotations

import hashlib
import os
import re
import statistics
import tempfile
import time
from collections.abc import Sequence
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
    "INT8_ATOL_FRACTION",
    "MIN_CALIBRATION_PHOTOS",
    "MIN_CONFIDENT_AGREEMENT",
    "MIN_EVALUATION",
    "MIN_TOP5",
    "SABOTAGE_MARGIN",
    "check_gate",
    "check_int8",
    "check_ort",
    "median_latency_ms",
]

#: The rubric's floor for int8: top-1 agreement where fp32 is confident, and top-5 containment.
MIN_CONFIDENT_AGREEMENT, MIN_TOP5 = 0.95, 0.95
#: The fewest calibration photos (whole photos, not crops) and evaluation crops that support a conclusion.
MIN_CALIBRATION_PHOTOS, MIN_EVALUATION = 5, 100
#: How far an .ort file of a QDQ model may be from its .onnx, as a fraction of the logits' range: the converter's
#: and the session's int8 fusions differ (Fixed vs Runtime style), so int8 outputs move by rounding steps.
INT8_ATOL_FRACTION = 0.05
#: The gate's broken copy lifts one class's logit above the top one by this much on one reference photo.
SABOTAGE_MARGIN = 0.5
#: A latency budget above this many times the model's median latency would let a far slower model through.
BUDGET_FACTOR = 8.0
#: What stage 5 passed in this kernel: the shipped int8 file's SHA-256 and name (stages 6 and 7 ship that file).
_SHIPPED: dict[str, str] = {}

# ------------------------------------------------------------------------------------------------ stage 5

_WHY_WORDS = re.compile(
    r"\b(confident|confidence|top-?5|top 5|top-?1|top 1|agree\w*|size|smaller|mb|mib|kb|ms|latency|speed\w*|"
    r"faster|slower|accura\w*|margin)\b",
    re.IGNORECASE,
)


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _photo_names(names: Any, what: str) -> tuple[str, ...]:
    """The photo names the learner passed (a sequence of str), each a package photo."""
    from course_utils.capstone.photoset import photo_names

    expect(names is not None, f"no {what} photos yet: pass the names of the photos you used")
    expect(
        not isinstance(names, str) and isinstance(names, Sequence | set | frozenset) and bool(names),
        f"pass the {what} photos as a list of photo names",
        why="the rubric compares calibration and evaluation photo by photo: crops of one photo share its scene",
        got=type(names).__name__ if not isinstance(names, np.ndarray) else f"an array shaped {list(names.shape)}",
    )
    listed = tuple(str(n) for n in names)
    unknown = [n for n in listed if n not in photo_names()]
    expect(not unknown, f"{unknown[:1]} is not one of the package photos", got=", ".join(unknown[:3]))
    return listed


def _logits(session: Any, batch: np.ndarray) -> np.ndarray:
    return np.concatenate(
        [run_file(session, batch[i : i + 16], "the evaluation photos") for i in range(0, len(batch), 16)]
    )


def _initializers(model: onnx.ModelProto) -> dict[str, onnx.TensorProto]:
    return {t.name: t for t in model.graph.initializer}


def _float_weights(model: onnx.ModelProto) -> tuple[int, int]:
    """How many Conv/Gemm/MatMul nodes there are with a stored weight, and how many of those read it in float
    (not through a DequantizeLinear of an 8-bit initializer)."""
    inits = _initializers(model)
    producers = {o: n for n in model.graph.node for o in n.output}
    eight_bit = {onnx.TensorProto.INT8, onnx.TensorProto.UINT8}
    total = floating = 0
    for node in model.graph.node:
        if node.op_type not in {"Conv", "Gemm", "MatMul"} or len(node.input) < 2:
            continue
        weight = node.input[1]
        dq = producers.get(weight)
        if weight in inits:
            total, floating = total + 1, floating + 1
        elif dq is not None and dq.op_type == "DequantizeLinear" and dq.input[0] in inits:
            total += 1
            floating += inits[dq.input[0]].data_type not in eight_bit
    return total, floating


def _input_range(model: onnx.ModelProto) -> tuple[float, float] | None:
    """The float range the input's QuantizeLinear represents (from its scale and zero point), or None."""
    from onnx import numpy_helper

    inits = _initializers(model)
    name = model.graph.input[0].name
    node = next((n for n in model.graph.node if n.op_type == "QuantizeLinear" and n.input[0] == name), None)
    if node is None or node.input[1] not in inits or len(node.input) < 3 or node.input[2] not in inits:
        return None
    scale = float(numpy_helper.to_array(inits[node.input[1]]).reshape(-1)[0])
    zero = numpy_helper.to_array(inits[node.input[2]])
    low, high = (0, 255) if zero.dtype == np.uint8 else (-128, 127)
    z = float(zero.reshape(-1)[0])
    return (low - z) * scale, (high - z) * scale


def check_int8(
    path: Any = None, fp32: Any = None, calibration: Any = None, evaluation: Any = None, why: Any = None
) -> Passed:
    """Stage 5: ``path`` is the int8 model to ship (static, QDQ), ``fp32`` the float model it was made from (it must
    still match eager PyTorch), ``calibration`` the names of the photos it was calibrated on, ``evaluation`` the
    names of other photos it is judged on against ``fp32`` (every crop of them), ``why`` the reason it is the one
    to ship."""
    from course_utils.capstone.photoset import crops_of, scene
    from course_utils.models.efficientnet import preprocess
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
    total, floating = _float_weights(model)
    expect(
        total > 0 and floating == 0,
        f"{floating} of the {total} convolution and matrix-multiply weights are still stored in float",
        why="an int8 model stores its weights as 8-bit integers, each read through a DequantizeLinear: that is "
        "where the size goes and where the int8 kernels start; a layer left in float is neither smaller nor faster",
        got=f"{format_bytes(path.stat().st_size)} on disk",
    )
    calib = _photo_names(calibration, "calibration")
    evals = _photo_names(evaluation, "evaluation")
    scenes = {scene(n) for n in calib}
    expect(
        len(scenes) >= MIN_CALIBRATION_PHOTOS,
        f"calibration used {len(scenes)} photos",
        why="each activation's range comes from the calibration photos; a handful of scenes misses the ranges other "
        "photos reach",
        expected=f"at least {MIN_CALIBRATION_PHOTOS} different photos",
    )
    shared = sorted({n for n in evals if scene(n) in scenes})
    expect(
        not shared,
        f"{len(shared)} of the evaluation photos are also calibration photos",
        why="calibration fits the activation ranges to the photos it sees, crops of one photo share its colours and "
        "textures: judged on them the int8 model looks better than it will on new photos",
        expected="no photo (or view of the same scene) in both sets",
        got=", ".join(shared[:4]),
    )
    batch = preprocess(crops_of(evals))
    expect(
        len(batch) >= MIN_EVALUATION,
        f"the evaluation photos give {len(batch)} crops",
        why="agreement measured on so few crops moves by whole percentage points with one crop",
        expected=f"at least {MIN_EVALUATION}",
    )
    represented = _input_range(model)
    if represented is not None:
        inputs = preprocess(crops_of(calib))
        low, high = min(float(inputs.min()), 0.0), max(float(inputs.max()), 0.0)
        # within a factor of 2 on each side: Percentile and Entropy calibration clip the tails, a wrong pixel scale
        # (0-1, or ImageNet's mean and deviation) misses a side or doubles it
        expect(
            2 * low <= represented[0] <= 0.5 * low and 0.5 * high <= represented[1] <= 2 * high,
            "the model's input was quantized to a range the calibration photos' inputs do not have",
            why="calibration records each tensor's range from the inputs it is fed; the model's input range here "
            "does not cover what the named calibration photos give after the model's preprocessing, so calibration "
            "saw other inputs (another pixel scale or other photos) and real photos' pixels get clipped",
            expected=f"about {low:.2f} to {high:.2f}",
            got=f"{represented[0]:.2f} to {represented[1]:.2f}",
        )
    expect(
        isinstance(why, str) and bool(_WHY_WORDS.search(why)),
        "the choice comes without a reason that rests on what you measured",
        why="shipping a quantized model is a trade-off: say which of the numbers you measured decided it "
        "(agreement, size, latency)",
        got=repr(why)[:80] if why is not None else "no reason given",
    )
    _, fp32_path = load_answer(fp32, "the path of the fp32 .onnx model the int8 one was made from")
    parity(fp32_path)
    reference = _logits(session_for(fp32_path), batch)
    quality = compare_logits(reference, _logits(session_for(path), batch))
    expect(
        quality.n_confident >= 20,
        f"fp32 is confident on only {quality.n_confident} of the evaluation crops",
        why="agreement where fp32 is sure is the measure that matters; it needs enough such crops",
    )
    expect(
        quality.top1_agreement_confident >= MIN_CONFIDENT_AGREEMENT,
        "the int8 model changes the answer on photos where fp32 was confident",
        why="int8 noise may break near ties, but a clear winner must stay the winner: this configuration adds more "
        "noise than the model tolerates",
        expected=f"top-1 agreement >= {MIN_CONFIDENT_AGREEMENT:.0%} where fp32's margin >= {quality.confident_margin:g}",
        got=f"{quality.top1_agreement_confident:.1%} on {quality.n_confident} crops",
    )
    expect(
        quality.top5_contains >= MIN_TOP5,
        "the int8 model's top class is often outside fp32's top 5",
        why="where int8 changes the answer it should pick a class fp32 also rated highly",
        expected=f">= {MIN_TOP5:.0%}",
        got=f"{quality.top5_contains:.1%}",
    )
    size = path.stat().st_size
    _SHIPPED.clear()
    _SHIPPED.update(sha256=_sha256(path), name=path.name)
    return Passed(
        f"{path.name}: static QDQ int8, judged on {len(batch)} crops of {len(evals)} photos calibration never saw "
        f"(calibrated on {len(calib)} others)",
        (
            ("top-1 agreement", f"{quality.top1_agreement:.1%} on {quality.n} crops"),
            (
                "where fp32 is confident",
                f"{quality.top1_agreement_confident:.1%} on {quality.n_confident} crops (margin >= "
                f"{quality.confident_margin:g})",
            ),
            ("int8 top-1 in fp32's top 5", f"{quality.top5_contains:.1%}"),
            ("size", f"{format_bytes(size)} (fp32 weights alone: {format_bytes(_fp32_weight_bytes())})"),
            ("why this one", str(why).strip()),
        ),
    )


def _quantization_kind(model: onnx.ModelProto) -> set[str]:
    return {n.op_type for n in model.graph.node}


def _the_shipped_model(path: Path, role: str) -> None:
    """:class:`NotYet` unless ``path`` is the file stage 5 passed in this kernel."""
    expect(
        bool(_SHIPPED),
        "stage 5 has not passed in this kernel yet",
        why=f"{role} must be the int8 model stage 5 chose; the rubric knows it once stage 5's check passes",
    )
    expect(
        _sha256(path) == _SHIPPED["sha256"],
        f"{path.name} is not the model stage 5 passed ({_SHIPPED['name']})",
        why="the stages ship one model: the file that was quantized, judged and chosen is the one to convert and gate",
        got="another file's contents (SHA-256 differs)",
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
    _the_shipped_model(source_path, "the .onnx model the .ort file comes from")
    batch = fixed_photos(8, 100)
    expected = run_file(session_for(source_path), batch, "8 photos")
    got = run_file(session_for(ort_path), batch, "8 photos")
    expect(
        got.shape == expected.shape,
        "the ORT file's output has another shape than the .onnx model's",
        got=f"{list(got.shape)} vs {list(expected.shape)}",
    )
    quantized = any(n.op_type == "QuantizeLinear" for n in source_model.graph.node)
    error = float(np.max(np.abs(got - expected)))
    spread = float(expected.max() - expected.min())
    # int8: the converter's fusions (Fixed style) and the session's (Runtime style) round differently
    tolerance = INT8_ATOL_FRACTION * spread if quantized else 1e-3 * max(1.0, float(np.abs(expected).max()))
    same = int((got.argmax(1) == expected.argmax(1)).sum())
    expect(
        same == len(batch) and error <= tolerance,
        "the ORT file does not give the .onnx model's answers",
        why="an .ort file must compute what its .onnx file computes: the top class of every photo the same, and "
        + (
            "logits within int8 rounding (fused int8 kernels round differently, not by this much)"
            if quantized
            else "float logits within float rounding"
        ),
        expected=f"top-1 the same on 8 of 8, max difference <= {tolerance:.3g}",
        got=f"top-1 the same on {same} of 8, max difference {error:.3g}",
    )
    from course_utils.deploy.ort_format import read_ort_file

    info = read_ort_file(ort_path)
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


def _read_reference(reference: Any) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], Path]:
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
    outputs = {k: v for k, v in arrays.items() if k.startswith("output:")}
    expect(
        bool(inputs) and bool(outputs),
        "the reference holds no input and output arrays the gate can read",
        why="the gate runs the model on the stored inputs and compares with the stored outputs",
        got=", ".join(sorted(arrays)[:4]) or "no arrays",
    )
    return inputs, outputs, ref


def _looks_like_photos(batch: np.ndarray) -> float:
    """Neighbouring pixels' mean absolute difference over the batch's standard deviation: photos are smooth
    (every crop of the package photos: at most 0.6, grass), random values are not (about 1.1)."""
    if batch.ndim != 4 or batch.shape[-1] < 2 or float(np.std(batch)) == 0.0:
        return float("inf")
    return float(np.mean(np.abs(np.diff(batch, axis=-1))) / np.std(batch))


def _sabotage(logits: np.ndarray) -> tuple[int, float, int]:
    """Which class the broken copy lifts and by how much: the runner-up of the reference photo with the smallest
    margin, lifted :data:`SABOTAGE_MARGIN` above that photo's top logit (its top-1 changes). Returns the class, the
    shift and the photo."""
    order = np.sort(logits, axis=1)
    margins = order[:, -1] - order[:, -2]
    photo = int(np.argmin(margins))
    runner_up = int(np.argsort(logits[photo])[-2])
    return runner_up, float(margins[photo]) + SABOTAGE_MARGIN, photo


def _sabotaged(model_path: Path, folder: Path, column: int, shift: float, classes: int) -> Path:
    """A copy of the model whose first output's class ``column`` is lifted by ``shift``: a broken model to gate."""
    from onnx import helper, numpy_helper

    model = onnx.load(str(model_path))
    output = model.graph.output[0].name
    raw = output + "_before_sabotage"
    for node in model.graph.node:
        node.output[:] = [raw if o == output else o for o in node.output]
    lift = np.zeros(classes, np.float32)
    lift[column] = shift
    model.graph.initializer.append(numpy_helper.from_array(lift, "sabotage_lift"))
    model.graph.node.append(helper.make_node("Add", [raw, "sabotage_lift"], [output]))
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
    """Stage 7: the CI gate of the shipped model: ``model`` (its ``.onnx``, the file stage 5 chose), ``reference``
    (an ``.npz`` of ``input:``/``output:`` arrays: real photos and this model's outputs) and the gate's settings, as
    ``run_gate`` takes them. The gate must pass the model, guard the browser target, have a budget that means
    something, and fail a copy whose answer on one photo changed."""
    from course_utils.deploy.gate import run_gate

    _, model_path = load_answer(model, "the path of the shipped .onnx model")
    _the_shipped_model(model_path, "the gated model")
    inputs, outputs, ref = _read_reference(reference)
    photos = next(iter(inputs.values()))
    expect(
        photos.size > 0 and float(np.std(photos)) > 0.1,
        "the reference input is (nearly) constant",
        why="a model that ignores its input, or breaks on real photos, could still give the stored outputs",
        got=f"{photos.dtype}{list(photos.shape)}, standard deviation {float(np.std(photos)) if photos.size else 0:.3f}",
    )
    roughness = _looks_like_photos(photos)
    expect(
        roughness < 0.8,
        "the reference inputs do not look like photos",
        why="neighbouring pixels differ as much as random values do; a gate on noise says nothing about the answers "
        "users get on photos (int8 ranges were calibrated for photos, noise leaves them)",
        got=f"neighbouring pixels differ by {roughness:.2f} standard deviations (the package photos' crops: at most "
        "0.6; random values: about 1.1)",
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
    stored = next(iter(outputs.values()))
    session = session_for(model_path)
    feed = {k.removeprefix("input:"): v for k, v in inputs.items()}
    try:
        here = np.asarray(session.run(None, feed)[0])
    except Exception as error:
        raise NotYet("ONNX Runtime cannot run the model on the reference inputs", got=first_line(error)[:300]) from None
    spread = float(stored.max() - stored.min()) if stored.size else 0.0
    drift = float(np.max(np.abs(here - stored))) if here.shape == stored.shape else float("inf")
    expect(
        drift <= 0.01 * max(spread, 1.0),
        "the reference's outputs are not what this model computes on the reference's inputs",
        why="a gate compares the shipped model with outputs stored from that same model; outputs of another model "
        "force a tolerance so wide that real damage passes",
        got=f"max difference {drift:.3g} on this machine (logits span {spread:.3g})",
    )
    before = median_latency_ms(model_path, inputs)  # timed twice, around the gate: a busy moment counts for you
    try:
        report = run_gate(model_path, reference=ref, target=target, budget_ms=budget_ms, atol=atol)
    except Exception as error:  # GateInputError and the load errors: the course's own one-line message
        raise NotYet("the gate cannot run with these settings", got=first_line(error)[:300]) from None
    expect(
        report.passed,
        "the gate fails the model it is meant to ship",
        why="a gate that fails on a good model blocks every release; its reference or settings do not fit the model",
        got="; ".join(str(report.check(name)) for name in report.failed),
    )
    median = max(before, median_latency_ms(model_path, inputs))
    assert budget_ms is not None
    expect(
        budget_ms <= BUDGET_FACTOR * median,
        f"the budget is {budget_ms / median:.0f} times the model's median latency",
        why="a model that many times slower would still pass: the budget cannot catch a slowdown",
        expected=f"a budget at most {BUDGET_FACTOR:g} times the median you measure",
    )
    column, shift, photo = _sabotage(stored.reshape(len(stored), -1))
    with tempfile.TemporaryDirectory() as tmp:
        broken = _sabotaged(model_path, Path(tmp), column, shift, stored.shape[-1])
        caught = run_gate(broken, reference=ref, target="python", budget_ms=budget_ms, atol=atol)  # parity is the point
    expect(
        not caught.passed,
        f"the gate passes a copy whose answer on reference photo {photo} changed",
        why="a gate that passes a broken model cannot fail: its tolerance is wider than the damage it must catch "
        f"(one class's logit moved by {shift:.2g})",
        got=f"verdict {caught.verdict}",
    )
    return Passed(
        f"the gate passes {model_path.name} and fails a broken copy",
        (
            (
                "gate",
                f"{report.verdict}: {', '.join(c.name for c in report.checks)} (target {target}, atol {atol:.3g}, "
                f"budget {budget_ms:.4g} ms = {budget_ms / median:.1f} x the rubric's median here)",
            ),
            ("reference", f"{len(photos)} photos, {', '.join(k.removeprefix('input:') for k in inputs)}"),
            (
                "a copy with one photo's answer changed",
                f"{caught.verdict} ({', '.join(caught.failed)}; one class moved by {shift:.2g})",
            ),
        ),
    )
