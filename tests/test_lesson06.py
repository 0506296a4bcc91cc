"""Lesson 06's exercises: each reference solution passes, and plausible wrong answers get feedback that says
what is wrong without giving the fix away."""

from __future__ import annotations

import json
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from course_test_helpers import assert_wrong, export_digits_cnn

from course_utils.lessons import lesson06
from course_utils.lessons.exercise_models.lesson06 import bn_model
from course_utils.lessons.exercises import exercises_of


@pytest.fixture(scope="module")
def digits_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return export_digits_cnn(tmp_path_factory.mktemp("l06") / "digits_cnn.onnx")


@pytest.fixture(scope="module")
def trace_path(digits_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    options = ort.SessionOptions()
    options.enable_profiling = True
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.profile_file_prefix = str(tmp_path_factory.mktemp("trace") / "profile")
    session = ort.InferenceSession(str(digits_path), options, providers=["CPUExecutionProvider"])
    for _ in range(5):
        session.run(None, {"image": np.zeros((1, 1, 8, 8), np.float32)})
    return Path(session.end_profiling())


def test_starting_cells_get_feedback_without_the_fix(digits_path: Path, trace_path: Path) -> None:
    """The untouched starting code of each exercise cell, as the notebook stores its feedback."""

    def my_benchmark(make_session, feed):
        return None

    def my_flops(model):
        return None

    cases = [
        (lesson06.bn_level, (None,), "no function yet"),
        (lesson06.benchmark_loop, (my_benchmark,), "must return the list of timings"),
        (lesson06.slowest_op, (trace_path, {}, None), "totals is empty"),
        (lesson06.mobile_flops, (my_flops,), "must return a number"),
    ]
    for exercise, args, says in cases:
        feedback = exercise.check(*args)
        assert_wrong(exercise, feedback)
        assert says in feedback.message


def test_every_solution_passes(digits_path: Path, trace_path: Path) -> None:
    scope = {"lesson06": lesson06, "digits_path": digits_path, "trace_path": trace_path}
    runs = [exercise.run_solution(scope) for exercise in exercises_of("06")]
    assert [r.exercise for r in runs] == ["06.1", "06.2", "06.3", "06.4"]
    assert all(runs), [str(r) for r in runs]


# ------------------------------------------------------------------------------------------ 06.1

LEVELS = lesson06.LEVEL_NAMES
DIGITS_COUNTS = {  # the DigitsCNN's counts, as a learner would copy them from the lesson
    "ORT_DISABLE_ALL": 2,
    "ORT_ENABLE_BASIC": 0,
    "ORT_ENABLE_EXTENDED": 0,
    "ORT_ENABLE_LAYOUT": 0,
    "ORT_ENABLE_ALL": 0,
}


def _saved_counts(path, levels=LEVELS, folder=None):
    counts = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name in levels:
            options = ort.SessionOptions()
            options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, name)
            options.optimized_model_filepath = str(Path(folder or tmp) / f"{name}.onnx")
            options.log_severity_level = 3
            ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            saved = onnx.load(options.optimized_model_filepath)
            counts[name] = sum(n.op_type == "BatchNormalization" for n in saved.graph.node)
    return counts


def test_bn_counts_accepts_names_and_enums() -> None:
    as_enums = lambda path: {getattr(ort.GraphOptimizationLevel, k): v for k, v in _saved_counts(path).items()}  # noqa: E731
    assert lesson06.bn_level.check(as_enums).passed
    lower = lambda path: {k.removeprefix("ORT_").lower(): v for k, v in _saved_counts(path).items()}  # noqa: E731
    assert lesson06.bn_level.check(lower).passed


def test_bn_counts_models_differ() -> None:
    # The check's models disagree with each other and with the lesson's model: hard-coding cannot pass.
    with tempfile.TemporaryDirectory() as tmp:
        found = []
        for kind in ("pairs", "mixed", "shared", "input"):
            path = Path(tmp) / f"{kind}.onnx"
            onnx.save(bn_model(kind), str(path))
            found.append(tuple(_saved_counts(path).values()))
    assert len(set(found)) == 4, found
    assert found[0][0] == 2 and found[0][1] == 0  # Conv+BN pairs fold at Basic, as in the lesson
    assert found[3][1] >= 1  # a BatchNormalization with no Conv before it is not folded at Basic


def test_bn_counts_wrong_answers(digits_path: Path) -> None:
    ex = lesson06.bn_level

    # counts read from the file that was loaded, not from the optimized graphs
    def original(path):
        model = onnx.load(path)
        return dict.fromkeys(LEVELS, sum(n.op_type == "BatchNormalization" for n in model.graph.node))

    fb = ex.check(original)
    assert_wrong(ex, fb, "same at every level")
    # the lesson's (or the DigitsCNN's) numbers, hard-coded
    fb = ex.check(lambda path: dict(DIGITS_COUNTS))
    assert_wrong(ex, fb, "differ from the optimized graphs")
    # the right counts for the DigitsCNN computed once and returned for every model
    digits = _saved_counts(digits_path)
    assert digits == DIGITS_COUNTS
    assert_wrong(ex, ex.check(lambda path: digits), "differ from the optimized graphs")

    # one session per level, but the BatchNormalization of the file loaded counted (a copy, not the effect)
    def reads_the_input(path):
        counts = {}
        for name in LEVELS:
            options = ort.SessionOptions()
            options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, name)
            ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            counts[name] = sum(n.op_type == "BatchNormalization" for n in onnx.load(path).graph.node)
        return counts

    assert_wrong(ex, ex.check(reads_the_input), "same at every level")

    # counts every level but assumes folding removes every BatchNormalization (the lesson's ResNet-18 story)
    def all_or_nothing(path):
        n = sum(op.op_type == "BatchNormalization" for op in onnx.load(path).graph.node)
        return {name: n if name == "ORT_DISABLE_ALL" else 0 for name in LEVELS}

    assert_wrong(ex, ex.check(all_or_nothing), "differ from the optimized graphs")
    # a level missing; the counts instead of the function; no function
    assert_wrong(ex, ex.check(lambda path: {k: v for k, v in _saved_counts(path).items() if k != "ORT_ENABLE_LAYOUT"}))
    assert_wrong(ex, ex.check(DIGITS_COUNTS), "pass your function itself")
    assert_wrong(ex, ex.check(None))
    assert "empty" in ex.check(lambda path: {}).message


# ------------------------------------------------------------------------------------------ 06.2


def no_warmup(make_session, feed):
    session = make_session()
    out = []
    for _ in range(30):
        t0 = time.perf_counter()
        session.run(None, feed)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def session_timed(make_session, feed):
    t0 = time.perf_counter()
    session = make_session()
    for _ in range(5):
        session.run(None, feed)
    out = [(time.perf_counter() - t0) * 1000]
    for _ in range(29):
        t0 = time.perf_counter()
        session.run(None, feed)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def in_seconds(make_session, feed):
    session = make_session()
    for _ in range(5):
        session.run(None, feed)
    out = []
    for _ in range(30):
        t0 = time.perf_counter()
        session.run(None, feed)
        out.append(time.perf_counter() - t0)
    return out


def session_per_run(make_session, feed):
    out = []
    for _ in range(3):
        session = make_session()
        session.run(None, feed)
        t0 = time.perf_counter()
        session.run(None, feed)
        out.append((time.perf_counter() - t0) * 1000)
    return out


def whole_loop(make_session, feed):
    session = make_session()
    for _ in range(5):
        session.run(None, feed)
    t0 = time.perf_counter()
    for _ in range(30):
        session.run(None, feed)
    return [(time.perf_counter() - t0) * 1000 / 30] * 30


def cpu_clock_no_warmup(make_session, feed):
    session = make_session()
    out = []
    for _ in range(30):
        t0 = time.process_time()
        session.run(None, feed)
        out.append((time.process_time() - t0) * 1000)
    return out


def cpu_clock_session_timed(make_session, feed):
    t0 = time.thread_time()
    session = make_session()
    for _ in range(5):
        session.run(None, feed)
    out = [(time.thread_time() - t0) * 1000]
    for _ in range(29):
        t0 = time.thread_time()
        session.run(None, feed)
        out.append((time.thread_time() - t0) * 1000)
    return out


def cpu_clock_ns_no_warmup(make_session, feed):
    session = make_session()
    out = []
    for _ in range(25):
        t0 = time.process_time_ns()
        session.run(None, feed)
        out.append((time.process_time_ns() - t0) / 1e6)
    return out


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (no_warmup, "first (cold) run"),
        (cpu_clock_no_warmup, "first (cold) run"),
        (cpu_clock_ns_no_warmup, "first (cold) run"),
        (cpu_clock_session_timed, "creation is inside the timed region"),
        (session_timed, "creation is inside the timed region"),
        (in_seconds, "look like seconds"),
        (session_per_run, "created 3 sessions"),
        (whole_loop, "identical"),
    ],
)
def test_benchmark_loop_catches_mistakes(answer, says: str) -> None:
    fb = lesson06.benchmark_loop.check(answer)
    assert_wrong(lesson06.benchmark_loop, fb)
    assert says in str(fb)


def test_benchmark_loop_not_a_function() -> None:
    assert_wrong(lesson06.benchmark_loop, lesson06.benchmark_loop.check(None))
    assert_wrong(lesson06.benchmark_loop, lesson06.benchmark_loop.check([1.0, 2.0]))


# ------------------------------------------------------------------------------------------ 06.3


def totals_from(trace_path: Path, *, key: str = "op", unit: float = 1000, count: bool = False) -> dict:
    totals: dict = defaultdict(float)
    for event in json.loads(trace_path.read_text()):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            name = event["args"]["op_name"] if key == "op" else event["name"].removesuffix("_kernel_time")
            totals[name] += 1 if count else event["dur"] / unit
    return dict(totals)


def test_slowest_op_wrong_answers(trace_path: Path) -> None:
    ex = lesson06.slowest_op
    right = totals_from(trace_path)
    top = max(right, key=right.get)
    assert ex.check(trace_path, right, top).passed
    fb = ex.check(trace_path, totals_from(trace_path, key="node"), top)
    assert_wrong(ex, fb)
    assert "node names" in fb.message
    fb = ex.check(trace_path, totals_from(trace_path, count=True), top)
    assert_wrong(ex, fb)
    assert "how many events" in fb.message
    fb = ex.check(trace_path, totals_from(trace_path, unit=1), top)
    assert_wrong(ex, fb)
    assert "1000x" in fb.message
    other = next(k for k in right if k != top)
    assert_wrong(ex, ex.check(trace_path, right, other))
    assert_wrong(ex, ex.check(trace_path, right, None))
    assert_wrong(ex, ex.check("missing.json", right, top))


def test_slowest_op_counting_every_event_is_wrong(trace_path: Path) -> None:
    # summing fence and session events too gives different totals
    totals: dict = defaultdict(float)
    for event in json.loads(trace_path.read_text()):
        op = event.get("args", {}).get("op_name")
        if op:
            totals[op] += event.get("dur", 0) / 1000
    totals["Conv"] += 1.0  # the model_run events hold the time of whole runs
    fb = lesson06.slowest_op.check(trace_path, dict(totals), "Conv")
    assert_wrong(lesson06.slowest_op, fb)


# ------------------------------------------------------------------------------------------ 06.4


def flops_factory(mac: bool = False, ignore_group: bool = False, ignore_stride: bool = False, no_gemm: bool = False):
    import math

    import onnx

    def count(model):
        graph = onnx.shape_inference.infer_shapes(model).graph
        shapes = {t.name: tuple(t.dims) for t in graph.initializer}
        for v in [*graph.input, *graph.value_info, *graph.output]:
            shapes[v.name] = tuple(d.dim_value for d in v.type.tensor_type.shape.dim)
        total = 0
        for node in graph.node:
            if node.op_type == "Conv":
                n, c_out, *spatial = shapes[node.output[0]]
                if ignore_stride:
                    spatial = shapes[node.input[0]][2:]
                w = shapes[node.input[1]]
                c_in = shapes[node.input[0]][1] if ignore_group else w[1]
                total += n * c_out * math.prod(spatial) * c_in * math.prod(w[2:]) * (1 if mac else 2)
            elif node.op_type == "Gemm" and not no_gemm:
                (m, k), w = shapes[node.input[0]], shapes[node.input[1]]
                total += m * k * w[0] * (1 if mac else 2)
        return total

    return count


@pytest.mark.parametrize(
    ("options", "says"),
    [
        ({"mac": True}, "half"),
        ({"ignore_group": True}, "depthwise convolution is counted 32x"),
        ({"ignore_stride": True}, "strided convolution"),
        ({"no_gemm": True}, "Gemm is missing"),
    ],
)
def test_mobile_flops_wrong_answers(options: dict, says: str) -> None:
    fb = lesson06.mobile_flops.check(flops_factory(**options))
    assert_wrong(lesson06.mobile_flops, fb)
    assert says in fb.message


def test_mobile_flops_output_size_from_division_is_caught() -> None:
    # Shapes computed by hand as H // stride (right for the lesson's even sizes): wrong for an odd size.
    import math

    import onnx

    def by_hand(model):
        graph = model.graph
        weights = {t.name: tuple(t.dims) for t in graph.initializer}
        n, _, h, w = (d.dim_value for d in graph.input[0].type.tensor_type.shape.dim)
        total, size = 0, (h, w)
        for node in graph.node:
            if node.op_type == "Conv":
                strides = next((list(a.ints) for a in node.attribute if a.name == "strides"), [1, 1])
                size = (size[0] // strides[0], size[1] // strides[1])
                kernel = weights[node.input[1]]
                total += 2 * n * kernel[0] * math.prod(size) * kernel[1] * math.prod(kernel[2:])
            elif node.op_type == "Gemm":
                out, k = weights[node.input[1]]
                total += 2 * n * k * out
        return total

    assert by_hand(lesson06.mobile_block()) == flops_factory()(lesson06.mobile_block())  # right on the lesson's
    fb = lesson06.mobile_flops.check(by_hand)
    assert_wrong(lesson06.mobile_flops, fb, "[3, 12, 15, 15]", "output size is off")
    assert onnx  # shape inference is the hint's tool, not this answer's


def test_mobile_flops_hard_coded_number_is_caught() -> None:
    right = flops_factory()(lesson06.mobile_block())
    fb = lesson06.mobile_flops.check(lambda model: right)
    assert_wrong(lesson06.mobile_flops, fb)
    assert lesson06.mobile_flops.check(flops_factory()).passed
    assert_wrong(lesson06.mobile_flops, lesson06.mobile_flops.check(right))
