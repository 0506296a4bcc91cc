"""Exercises of lesson 07 (quantization): write a calibration reader, choose the configuration that makes a new
model fast on this CPU, and find the node whose quantization costs the most.

    from course_utils.lessons import lesson07
    lesson07.calibration_reader.check(reader)
    lesson07.fast_config.check(options)
    lesson07.costly_node.check(node_name)

The models the exercises use: :func:`skipnet_path` (a small residual CNN, exercise 07.2, built in
:mod:`course_utils.lessons.exercise_models.lesson07`) and
:func:`outlier_digits_path` (the trained DigitsCNN with one outlier channel, exercise 07.3).
"""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import numpy_helper

from course_utils.lessons.exercise_models.lesson07 import skipnet_inputs, skipnet_path
from course_utils.lessons.exercises import Exercise, NotYet, expect
from course_utils.paths import artifact_path, build_once, newer_than

__all__ = [
    "calibration_reader",
    "costly_node",
    "fast_config",
    "outlier_digits_path",
    "skipnet_inputs",
    "skipnet_path",
]

LESSON = "07"
_MAX_BATCHES = 2_000  # more than the training split has images


# ------------------------------------------------------------------------------------------ 07.1


def _digits_rows(images: np.ndarray) -> set[bytes]:
    return {row.tobytes() for row in images.reshape(len(images), -1).astype(np.float32)}


class _Recording:
    """The learner's reader, handed to ``quantize_static`` itself: each batch is checked and copied as the
    calibrator reads it, so the check judges what the reader really gave the real consumer."""

    def __init__(self, reader: Any, input_name: str) -> None:
        self._reader = reader
        self._input_name = input_name
        self.batches: list[np.ndarray] = []

    def get_next(self) -> dict[str, np.ndarray] | None:
        index = len(self.batches)
        expect(
            index < _MAX_BATCHES,
            f"get_next() still returns data after {_MAX_BATCHES:,} calls",
            why="quantize_static reads until get_next() says the data has run out; it would never stop",
            expected="a signal that the data has run out once every image was returned",
        )
        batch = self._reader.get_next()
        if batch is None:
            expect(index > 0, "the reader returned no data at all", why="calibration needs images to measure ranges on")
            return None
        expect(
            isinstance(batch, dict),
            f"batch {index} is a {type(batch).__name__}, not a dict",
            why="ONNX Runtime feeds each batch to the model by input name",
            expected="{input name: array}",
        )
        expect(
            list(batch) == [self._input_name],
            f"batch {index} is keyed {list(batch)}, which is not the model's input name",
            why="ONNX Runtime matches the arrays to the model's inputs by name",
            expected="the one name session.get_inputs() lists",
            got=list(batch),
        )
        value = np.asarray(batch[self._input_name])
        expect(
            value.dtype == np.float32,
            f"batch {index} holds {value.dtype} values",
            why="the model's input is float32; ONNX Runtime does not convert",
            expected="float32",
            got=str(value.dtype),
        )
        expect(
            value.ndim == 4 and value.shape[1:] == (1, 8, 8),
            f"batch {index} has shape {value.shape}",
            why="the model takes a batch of 1-channel 8x8 images",
            expected="(N, 1, 8, 8)",
            got=value.shape,
        )
        self.batches.append(value.copy())  # a copy: a reader may reuse its buffer for the next batch
        return {self._input_name: value}


def _check_calibration_reader(reader: Any) -> str:
    from onnxruntime.quantization import quantize_static

    from course_utils.models.data import load_digits
    from course_utils.quantize import accuracy, get_config, prepare_model, quiet

    expect(reader is not None, "no answer yet: pass an instance of your calibration reader")
    expect(
        callable(getattr(reader, "get_next", None)),
        "this is not a calibration reader: quantize_static calls its get_next() method",
        got=type(reader).__name__,
    )
    pre = prepare_model("digits_cnn")
    proto = onnx.load(str(pre))
    input_name = proto.graph.input[0].name
    recording = _Recording(reader, input_name)
    digits = load_digits()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "solution_check.onnx"
        # The learner's own reader goes to quantize_static, as in the lesson (QDQ, unsigned activations).
        try:
            with quiet():
                quantize_static(str(pre), str(out), recording, **get_config("int8-qdq-u8").kwargs(proto))
        except NotYet:
            raise
        except Exception as error:  # the learner's reader may break in any way: say where
            raise NotYet(
                f"quantize_static failed while reading your calibration data: {type(error).__name__}",
                got=(str(error).strip().splitlines() or [""])[0][:200],
            ) from None
        int8 = accuracy(out, digits.x_test, digits.y_test)
    batches = recording.batches
    stacked = np.concatenate(batches)
    rows = [row.tobytes() for row in stacked.reshape(len(stacked), -1)]
    train_label = {
        row.tobytes(): int(y)
        for row, y in zip(digits.x_train.reshape(len(digits.x_train), -1), digits.y_train, strict=True)
    }
    test_rows = _digits_rows(digits.x_test)
    from_test = sum(r in test_rows and r not in train_label for r in rows)
    expect(
        from_test == 0,
        f"{from_test} of the {len(rows)} calibration images belong to the test split",
        why="the test split measures accuracy; calibrating on it lets the test see its own answers",
        expected="images from the training split only",
    )
    expect(
        all(r in train_label for r in rows),
        "some calibration images are not digits from the course's data",
        why="calibration measures the ranges of real inputs; other data gives other ranges (ORT#11286)",
        expected="images taken from load_digits()",
    )
    counts = np.bincount([train_label[r] for r in rows], minlength=10)
    expect(
        counts.min() >= 10,
        f"some digits are missing or rare in the calibration set (fewest: {counts.min()} images)",
        why="calibration should see every kind of input the model will meet",
        expected="at least 10 images of each digit",
        got=dict(enumerate(counts.tolist())),
    )
    expect(
        counts.max() == counts.min(),
        "the digits are not equally represented",
        why="a skewed calibration set sizes the scales for the common digits",
        expected="the same number of images of each digit",
        got=dict(enumerate(counts.tolist())),
    )
    fp32 = accuracy(pre, digits.x_test, digits.y_test)
    expect(
        int8 >= fp32 - 0.01,
        f"the model calibrated with these images loses {100 * (fp32 - int8):.1f} points of accuracy",
        why="representative calibration data keeps int8 within a point of fp32",
    )
    return (
        f"{len(batches)} batches, {counts.min()} training images of each digit; the int8 DigitsCNN calibrated on "
        "them stays within 1 point of fp32's test accuracy"
    )


calibration_reader = Exercise(
    "07.1",
    "Write a class-balanced calibration reader",
    _check_calibration_reader,
    hints=[
        "Start from the lesson's reader: get_next() returns {input name: batch} per call and None at the end. "
        "What changes is which images go into it.",
        "Pick the same number of images of every digit from the training split: the labels are in "
        "load_digits().y_train; np.flatnonzero(labels == d) gives the indices of digit d.",
        "indices = np.concatenate([np.flatnonzero(y_train == d)[:20] for d in range(10)]), then feed "
        "x_train[indices] in batches of 16.",
    ],
    solution_code="""
import numpy as np
from onnxruntime.quantization import CalibrationDataReader

from course_utils import load_digits


class BalancedDigitsReader(CalibrationDataReader):
    def __init__(self, per_digit=20, batch_size=16):
        digits = load_digits()
        picks = [np.flatnonzero(digits.y_train == d)[:per_digit] for d in range(10)]
        images = digits.x_train[np.concatenate(picks)]
        self.batches = [images[i : i + batch_size] for i in range(0, len(images), batch_size)]
        self.rewind()

    def get_next(self):
        batch = next(self.iterator, None)
        return None if batch is None else {"image": batch}

    def rewind(self):
        self.iterator = iter(self.batches)


lesson07.calibration_reader.check(BalancedDigitsReader())
""",
    giveaways=("flatnonzero", "y_train ==", "[:20]"),
)


# ------------------------------------------------------------------------------------------ 07.2


def _platform_int8_allowed() -> bool | None:
    """None: ONNX Runtime's default for this platform (tests pin it to check the x86 behaviour anywhere)."""
    return None


def _x86() -> bool:
    """Whether this CPU is x86 (tests pin it, so the x86 rule is checked on every machine)."""
    import platform

    return platform.machine().lower() in {"x86_64", "amd64", "i386", "i686", "x86"}


def _kernel_types(model_path: Path) -> tuple[list[str], list[str]]:
    """The QLinearConv nodes of the graph ONNX Runtime runs that read signed activations, and those that read
    unsigned weights (read from their zero points' types, as the kernels see them)."""
    from course_utils.quantize import runtime_model

    graph = runtime_model(model_path, _platform_int8_allowed()).graph
    types = {t.name: t.data_type for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant":
            for attribute in node.attribute:
                if attribute.name == "value":
                    types[node.output[0]] = attribute.t.data_type
    signed, unsigned_weights = [], []
    for node in graph.node:
        if node.op_type != "QLinearConv":
            continue
        name = node.name or node.output[0]
        if types.get(node.input[2]) == onnx.TensorProto.INT8:
            signed.append(name)
        elif types.get(node.input[5]) == onnx.TensorProto.UINT8:
            unsigned_weights.append(name)
    return signed, unsigned_weights


def _measured_speedup(fp32: Path, int8: Path, feed: np.ndarray) -> float:
    """fp32 p50 / int8 p50 on this machine (reported, never required: timings vary with load)."""
    from course_utils.quantize import time_p50

    return time_p50(fp32, feed, budget_s=0.3) / time_p50(int8, feed, budget_s=0.3)


def _check_fast_config(options: Any) -> str:
    from onnxruntime.quantization import quantize_static

    from course_utils.quantize import ImageCalibrationReader, fusion, op_counts, predict, quiet

    expect(options is not None, "no answer yet: set `options` to the keyword arguments for quantize_static")
    expect(
        isinstance(options, dict),
        "`options` should be a dict of keyword arguments for quantize_static",
        got=type(options).__name__,
    )
    reserved = {"model_input", "model_output", "calibration_data_reader"} & set(options)
    expect(
        not reserved,
        f"`options` sets {sorted(reserved)}, which the check supplies itself",
        expected="only quantization settings",
    )
    pre = skipnet_path()
    images = skipnet_inputs()
    convs = op_counts(pre).get("Conv", 0)
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "solution_skipnet_int8.onnx"
        try:
            with quiet():
                quantize_static(str(pre), str(out), ImageCalibrationReader(images[:16], "image", 1), **options)
        except TypeError as error:
            raise NotYet(f"quantize_static rejects these options: {error}") from None
        runtime = fusion(out, convs, int8_allowed=_platform_int8_allowed())
        expect(
            runtime.conv_integer == 0 and runtime.qlinear_conv > 0,
            "the convolutions do not run as fused int8 operators",
            why="ConvInteger or fp32 Conv between QuantizeLinear/DequantizeLinear pays for conversions at every layer",
            expected=f"all {convs} convolutions as QLinearConv at run time",
            got=str(runtime),
        )
        expect(
            runtime.all_fused,
            f"only {runtime.qlinear_conv} of {convs} convolutions are fused at run time on this CPU",
            why="each unfused convolution runs in fp32 with a dequantize before it and a quantize after it",
            expected=f"all {convs} as QLinearConv",
            got=str(runtime),
        )
        signed, unsigned_weights = _kernel_types(out)
        speedup = _measured_speedup(pre, out, images[:1])
        if not _x86():  # Arm's int8 kernels are fast for signed and unsigned activations alike
            signed, unsigned_weights = [], []
        expect(
            not signed,
            f"all {convs} convolutions run as QLinearConv, but {len(signed)} of them read signed 8-bit activations",
            why="ONNX Runtime's x86 int8 convolution kernels are fast for one pairing of activation and weight types; "
            f"signed activations take a slow path (this run measured the int8 model at {speedup:.1f}x the fp32 "
            "model's speed): the node type alone does not make a model fast",
            expected="every QLinearConv on the kernel path x86 accelerates",
            got=f"signed activations at {', '.join(signed[:3])}{' ...' if len(signed) > 3 else ''}",
        )
        expect(
            not unsigned_weights,
            f"all {convs} convolutions run as QLinearConv, but {len(unsigned_weights)} of them read unsigned weights",
            why="ONNX Runtime's x86 int8 convolution kernels are fast for one pairing of activation and weight types; "
            f"unsigned weights with unsigned activations take a slower path (this run measured the int8 model at "
            f"{speedup:.1f}x the fp32 model's speed)",
            expected="every QLinearConv on the kernel path x86 accelerates",
            got=f"unsigned weights at {', '.join(unsigned_weights[:3])}{' ...' if len(unsigned_weights) > 3 else ''}",
        )
        reference, quantized = predict(pre, images), predict(out, images)
    cosine = float(
        np.mean(
            np.sum(reference * quantized, axis=1)
            / (np.linalg.norm(reference, axis=1) * np.linalg.norm(quantized, axis=1) + 1e-12)
        )
    )
    expect(
        cosine >= 0.98,
        f"the int8 outputs drift from fp32 (mean cosine similarity {cosine:.3f})",
        why="a fast model that computes something else is no speed-up",
        expected="cosine similarity >= 0.98 with the fp32 logits",
    )
    measured = (
        f"this run measured {speedup:.1f}x the fp32 model's speed"
        if speedup >= 1
        else f"this run measured only {speedup:.1f}x the fp32 model's speed, which on this kernel path means the "
        "machine was busy: time it again when it is quiet (python -m course_utils.bench)"
    )
    path = (
        "with unsigned 8-bit activations and signed weights, the pairing ONNX Runtime's x86 kernels accelerate,"
        if _x86()
        else "on ONNX Runtime's Arm int8 kernels,"
    )
    return (
        f"all {convs} convolutions of SkipNet run as QLinearConv {path} and the logits stay within 2% of fp32 (cosine >= 0.98); "
        f"{measured} (the check requires the kernel path that causes the speed-up, not a timing)"
    )


fast_config = Exercise(
    "07.2",
    "Choose the quantization that makes SkipNet fast on this CPU",
    _check_fast_config,
    hints=[
        "Quantize with quantize_static's defaults first, then count the operators in the graph ONNX Runtime "
        "runs (quantize.runtime_ops): which convolutions stayed fp32, and what do they read from?",
        "The convolutions that stay fp32 read tensors that also feed a skip connection. On x86 ONNX Runtime fuses "
        "signed-int8 activations only in special cases; which activation type does x86 fuse everywhere? And a "
        "fused QLinearConv is fast on x86 for one pairing of activation and weight types only: print the measured "
        "speed of each pairing you try.",
        "Unsigned activations, signed weights, and per-channel weight scales for accuracy: "
        "activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, per_channel=True.",
    ],
    solution_code="""
from onnxruntime.quantization import QuantFormat, QuantType

solution_options = {
    "quant_format": QuantFormat.QDQ,
    "activation_type": QuantType.QUInt8,
    "weight_type": QuantType.QInt8,
    "per_channel": True,
}
lesson07.fast_config.check(solution_options)
""",
    giveaways=("QUInt8", "activation_type=", "per_channel=True"),
)


# ------------------------------------------------------------------------------------------ 07.3

#: The channel of the first convolution that exercise 07.3's model scales up, and by how much.
OUTLIER_CHANNEL, OUTLIER_SCALE = 3, 40.0


def outlier_digits_path() -> Path:
    """The trained DigitsCNN with one outlier channel: ``artifacts/07/digits_outlier_pre.onnx``.

    Channel 3 of the first convolution is multiplied by 40 and the second convolution's weights reading it are
    divided by 40. ReLU(40 x) = 40 ReLU(x), so the model computes the same function (the same accuracy) but its
    weights and activations now span a 40x wider range in one channel, as trained models often do."""
    from course_utils.quantize import prepare_model

    path = artifact_path("digits_outlier_pre.onnx", lesson=LESSON)
    pre = prepare_model("digits_cnn")
    return build_once(path, lambda partial: _save_outlier_model(pre, partial), fresh=newer_than(pre))


def _save_outlier_model(pre: Path, path: Path) -> None:
    model = onnx.load(str(pre))
    convs = [n for n in model.graph.node if n.op_type == "Conv"]
    weights = {t.name: t for t in model.graph.initializer}

    def scale(name: str, index: tuple[Any, ...], factor: float) -> None:
        array = numpy_helper.to_array(weights[name]).copy()
        array[index] *= factor
        weights[name].CopyFrom(numpy_helper.from_array(array, name))

    first, second = convs[0], convs[1]
    scale(first.input[1], (OUTLIER_CHANNEL,), OUTLIER_SCALE)
    scale(first.input[2], (OUTLIER_CHANNEL,), OUTLIER_SCALE)
    scale(second.input[1], (slice(None), OUTLIER_CHANNEL), 1.0 / OUTLIER_SCALE)
    onnx.save(model, str(path))


@functools.cache
def _exclusion_errors(model_mtime: float) -> dict[str, float]:
    """Mean |logit - fp32 logit| on the test digits, per node excluded (default quantize_static, MinMax)."""
    from course_utils.models.data import load_digits
    from course_utils.quantize import digits_reader, get_config, predict, quantize

    path = outlier_digits_path()
    images = load_digits().x_test
    reference = predict(path, images)
    candidates = [n.name for n in onnx.load(str(path)).graph.node if n.op_type in ("Conv", "Gemm", "MatMul")]
    errors = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in candidates:
            config = get_config("int8-static")
            config = type(config)(**{**config.__dict__, "name": "exclude", "exclude": (name,)})
            out = quantize(path, config, digits_reader(), out=Path(tmp) / "solution_exclude.onnx", force=True)
            errors[name] = float(np.abs(predict(out, images) - reference).mean())
    return errors


def _check_costly_node(node_name: Any) -> str:
    expect(node_name is not None, "no answer yet: set `node` to the name of one node of the model")
    expect(isinstance(node_name, str), "`node` should be a node's name (a string)", got=type(node_name).__name__)
    path = outlier_digits_path()
    nodes = {n.name: n.op_type for n in onnx.load(str(path)).graph.node}
    expect(
        node_name in nodes,
        f"the model has no node named {node_name!r}",
        why="nodes_to_exclude matches node names exactly",
        expected="one of the names in [n.name for n in model.graph.node]",
        got=node_name,
    )
    errors = _exclusion_errors(path.stat().st_mtime)
    expect(
        node_name in errors,
        f"{node_name!r} is a {nodes[node_name]} node: it has no weights and quantize_static does not quantize it "
        "on its own",
        why="excluding it leaves every quantized tensor as it was",
        expected="a node whose weights and output are quantized",
    )
    best = min(errors.values())
    expect(
        errors[node_name] <= best * 1.02,
        f"keeping {node_name!r} in fp32 leaves the logits {errors[node_name]:.2f} from fp32 on average; another "
        "node's exclusion brings them closer",
        why="the node to exclude is the one whose quantization adds the most error",
        expected="the node whose exclusion brings the logits closest to fp32",
    )
    others = sorted(e for n, e in errors.items() if n != node_name)
    return (
        f"excluding {node_name!r} brings the logits closest to fp32 ({others[0] / errors[node_name]:.0f}x closer "
        "than excluding the next best node)"
        if others and others[0] / errors[node_name] >= 2
        else f"excluding {node_name!r} brings the logits closest to fp32"
    )


costly_node = Exercise(
    "07.3",
    "Exclude the node whose quantization costs the most",
    _check_costly_node,
    hints=[
        "Quantize the model with quantize_static's defaults and the digits reader, then ask qdq_loss_debug (or "
        "quantize.sensitivity) which quantized tensors lose the most signal.",
        "Try each Conv/Gemm node in nodes_to_exclude=[name] in turn and measure how far the logits move from "
        "fp32 (mean absolute difference on the test digits); the smallest difference wins.",
        "The outlier channel sits in the first convolution's weights: a per-tensor scale sized for it leaves the "
        "other 15 channels only a few int8 levels.",
    ],
    solution_code="""
import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import CalibrationDataReader, quantize_static

from course_utils import artifact_path, load_digits

model_path = lesson07.outlier_digits_path()
test = load_digits().x_test


class DigitsReader(CalibrationDataReader):  # the first 128 training digits, 4 batches of 32
    def __init__(self):
        self.batches = iter(np.split(load_digits().x_train[:128], 4))

    def get_next(self):
        batch = next(self.batches, None)
        return None if batch is None else {"image": batch}


def logits(path):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {"image": test})[0]


reference = logits(model_path)
candidates = [n.name for n in onnx.load(str(model_path)).graph.node if n.op_type in ("Conv", "Gemm")]
distance = {}
for name in candidates:
    out = artifact_path("solution_exclude.onnx", lesson="07")
    quantize_static(str(model_path), str(out), DigitsReader(), nodes_to_exclude=[name])
    distance[name] = float(np.abs(logits(out) - reference).mean())
solution_node = min(distance, key=distance.get)
lesson07.costly_node.check(solution_node)
""",
    giveaways=("features.0", "first convolution"),
)
