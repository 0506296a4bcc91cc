"""Lesson 07's exercise checks: every solution passes; plausible wrong answers get feedback that does not give the
fix away."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in, assert_wrong

from course_utils import load_digits
from course_utils.lessons import lesson07
from course_utils.lessons.exercises import Exercise

pytest.importorskip("torch")


@pytest.fixture(scope="module", autouse=True)
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    with artifacts_in(tmp_path_factory.mktemp("artifacts")) as folder:
        yield folder


@pytest.mark.parametrize("exercise", [lesson07.calibration_reader, lesson07.fast_config, lesson07.costly_node])
def test_solutions_pass(exercise: Exercise) -> None:
    run = exercise.run_solution({"lesson07": lesson07})
    assert run.passed, str(run)


@pytest.mark.parametrize("exercise", [lesson07.calibration_reader, lesson07.fast_config, lesson07.costly_node])
def test_untouched_starting_code_says_no_answer_yet(exercise: Exercise) -> None:
    feedback = exercise.check(None)
    assert_wrong(exercise, feedback, "no answer yet")


@pytest.mark.parametrize("exercise", [lesson07.calibration_reader, lesson07.fast_config, lesson07.costly_node])
def test_hints_escalate(exercise: Exercise) -> None:
    hints = [exercise.hint().text for _ in exercise.hints]
    assert len(hints) >= 2 and len(set(hints)) == len(hints)


# ------------------------------------------------------------------------------------------------ 07.1


class Reader:
    """A calibration reader over fixed arrays (what a learner writes, right or wrong)."""

    def __init__(self, images: np.ndarray, key: str = "image", batch_size: int = 16) -> None:
        self.batches = [{key: images[i : i + batch_size]} for i in range(0, len(images), batch_size)]
        self.rewind()

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.iterator, None)

    def rewind(self) -> None:
        self.iterator = iter(self.batches)


def balanced(split: str = "train", per_digit: int = 12) -> np.ndarray:
    digits = load_digits()
    x, y = (digits.x_train, digits.y_train) if split == "train" else (digits.x_test, digits.y_test)
    return x[np.concatenate([np.flatnonzero(y == d)[:per_digit] for d in range(10)])]


def test_reader_right_answer() -> None:
    assert lesson07.calibration_reader.check(Reader(balanced())).passed


def test_reader_first_images_are_not_balanced() -> None:
    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(Reader(load_digits().x_train[:256])), "not equally represented")


def test_reader_from_the_test_split() -> None:
    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(Reader(balanced("test", 10))), "test split")


def test_reader_with_too_few_of_each_digit() -> None:
    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(Reader(balanced(per_digit=3))), "missing or rare")


def test_reader_with_random_images() -> None:
    noise = np.random.default_rng(0).random((160, 1, 8, 8), dtype=np.float32)
    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(Reader(noise)), "not digits")


def test_reader_with_float64_or_wrong_key() -> None:
    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(Reader(balanced().astype(np.float64))), "float64")
    assert_wrong(exercise, exercise.check(Reader(balanced(), key="input")), "not the model's input name")


def test_reader_that_never_ends() -> None:
    class Forever:
        def get_next(self) -> dict[str, np.ndarray]:
            return {"image": balanced()[:16]}

    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(Forever()), "still returns data")


def test_reader_is_read_by_quantize_static_itself() -> None:
    """The check hands the learner's reader to quantize_static and judges what it yielded there; one without
    rewind() works, and one that reuses its buffer is judged by what each batch held when it was read."""

    class OneBuffer:
        def __init__(self) -> None:
            self.images, self.buffer, self.position = balanced(), np.empty((12, 1, 8, 8), np.float32), 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            if self.position >= len(self.images):
                return None
            self.buffer[:] = self.images[self.position : self.position + 12]
            self.position += 12
            return {"image": self.buffer}

    assert lesson07.calibration_reader.check(OneBuffer()).passed


def test_reader_that_breaks_while_read() -> None:
    class Broken:
        def __init__(self) -> None:
            self.calls = 0

        def get_next(self) -> dict[str, np.ndarray] | None:
            self.calls += 1
            if self.calls > 2:
                raise IndexError("list index out of range")
            return {"image": balanced()[:16]}

    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(Broken()), "failed while reading your calibration data", "IndexError")


def test_reader_that_is_not_a_reader() -> None:
    exercise = lesson07.calibration_reader
    assert_wrong(exercise, exercise.check(balanced()), "not a calibration reader")


# ------------------------------------------------------------------------------------------------ 07.2


def test_skipnet_is_a_residual_cnn() -> None:
    counts = onnx.load(str(lesson07.skipnet_path())).graph.node
    ops = [n.op_type for n in counts]
    assert ops.count("Conv") == 7 and ops.count("Add") >= 3


def test_defaults_fuse_only_some_convolutions_on_x86(monkeypatch: pytest.MonkeyPatch) -> None:
    """quantize_static's defaults, checked as x86 runs them (pinned, so the test means the same on Arm)."""
    monkeypatch.setattr(lesson07, "_platform_int8_allowed", lambda: False)
    exercise = lesson07.fast_config
    assert_wrong(exercise, exercise.check({}), "convolutions are fused")


def test_solution_options_pass_on_x86_and_arm_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from onnxruntime.quantization import QuantType

    options = {"activation_type": QuantType.QUInt8, "weight_type": QuantType.QInt8, "per_channel": True}
    for allowed in (False, True):
        monkeypatch.setattr(lesson07, "_platform_int8_allowed", lambda allowed=allowed: allowed)
        feedback = lesson07.fast_config.check(options)
        assert feedback.passed and "this run measured" in str(feedback), str(feedback)


@pytest.mark.parametrize(
    ("formats", "says"),
    [
        # QOperator with signed activations: every Conv becomes QLinearConv, yet the x86 kernel path is slow.
        (("QOperator", "QInt8", "QInt8"), "read signed 8-bit activations"),
        # QDQ with signed activations where ORT is told to fuse them (as on Arm): QLinearConv, still signed.
        (("QDQ", "QInt8", "QInt8"), "read signed 8-bit activations"),
        # Unsigned activations and unsigned weights: fused everywhere, and slower than fp32 on x86.
        (("QOperator", "QUInt8", "QUInt8"), "read unsigned weights"),
    ],
)
def test_fused_but_slow_kernel_paths_fail_on_x86(monkeypatch: pytest.MonkeyPatch, formats, says) -> None:
    """The node type alone does not make a model fast: the activation/weight types pick the kernel."""
    from onnxruntime.quantization import QuantFormat, QuantType

    monkeypatch.setattr(lesson07, "_x86", lambda: True)
    monkeypatch.setattr(lesson07, "_platform_int8_allowed", lambda: True)  # signed QDQ fused, as Arm does
    monkeypatch.setattr(lesson07, "_measured_speedup", lambda *args: 0.3)
    quant_format, activations, weights = formats
    options = {
        "quant_format": getattr(QuantFormat, quant_format),
        "activation_type": getattr(QuantType, activations),
        "weight_type": getattr(QuantType, weights),
    }
    feedback = lesson07.fast_config.check(options)
    assert_wrong(lesson07.fast_config, feedback, says, "QLinearConv")
    assert "0.3x" in str(feedback)


def test_qoperator_with_the_fast_pairing_passes(monkeypatch: pytest.MonkeyPatch) -> None:
    from onnxruntime.quantization import QuantFormat, QuantType

    monkeypatch.setattr(lesson07, "_x86", lambda: True)
    options = {
        "quant_format": QuantFormat.QOperator,
        "activation_type": QuantType.QUInt8,
        "weight_type": QuantType.QInt8,
    }
    feedback = lesson07.fast_config.check(options)
    assert feedback.passed, str(feedback)


def test_a_slow_measurement_is_not_called_a_speed_up(monkeypatch: pytest.MonkeyPatch) -> None:
    from onnxruntime.quantization import QuantType

    monkeypatch.setattr(lesson07, "_measured_speedup", lambda *args: 0.6)
    options = {"activation_type": QuantType.QUInt8, "weight_type": QuantType.QInt8, "per_channel": True}
    feedback = lesson07.fast_config.check(options)
    assert feedback.passed and "only 0.6x" in str(feedback) and "busy" in str(feedback), str(feedback)


def test_quantizing_only_matmuls_leaves_convolutions_in_fp32() -> None:
    exercise = lesson07.fast_config
    assert_wrong(exercise, exercise.check({"op_types_to_quantize": ["MatMul"]}), "do not run as fused int8")


def test_excluding_the_convolutions_is_not_an_answer() -> None:
    names = [n.name for n in onnx.load(str(lesson07.skipnet_path())).graph.node if n.op_type == "Conv"]
    exercise = lesson07.fast_config
    assert_wrong(exercise, exercise.check({"nodes_to_exclude": names}), "do not run as fused int8")


def test_options_that_quantize_static_rejects() -> None:
    exercise = lesson07.fast_config
    assert_wrong(exercise, exercise.check({"speed": "max"}), "rejects these options")
    assert_wrong(exercise, exercise.check({"model_output": "x.onnx"}), "the check supplies itself")
    assert_wrong(exercise, exercise.check(["QUInt8"]), "should be a dict")


# ------------------------------------------------------------------------------------------------ 07.3


def test_outlier_model_computes_the_same_function() -> None:
    from course_utils.quantize import predict, prepare_model

    images = load_digits().x_test[:64]
    np.testing.assert_allclose(
        predict(lesson07.outlier_digits_path(), images), predict(prepare_model("digits_cnn"), images), atol=1e-3
    )


def test_costly_node_wrong_convolution() -> None:
    exercise = lesson07.costly_node
    assert_wrong(exercise, exercise.check("/features/features.3/Conv"), "another node's exclusion")


def test_costly_node_last_layer() -> None:
    exercise = lesson07.costly_node
    assert_wrong(exercise, exercise.check("/classifier/classifier.3/Gemm"), "another node's exclusion")


def test_costly_node_not_quantized_on_its_own() -> None:
    exercise = lesson07.costly_node
    assert_wrong(exercise, exercise.check("/features/features.2/Relu"), "Relu node")


def test_costly_node_unknown_name_or_type() -> None:
    exercise = lesson07.costly_node
    assert_wrong(exercise, exercise.check("conv1"), "no node named 'conv1'")
    assert_wrong(exercise, exercise.check(3), "should be a node's name")
