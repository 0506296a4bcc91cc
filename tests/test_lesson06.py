"""Lesson 06's exercises: each reference solution passes, and plausible wrong answers get feedback that says
what is wrong without giving the fix away."""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
from course_test_helpers import assert_wrong, export_digits_cnn

from course_utils.lessons import lesson06
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
        (lesson06.bn_level, (digits_path, {}, None), "counts is empty"),
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
TRUE_COUNTS = {
    "ORT_DISABLE_ALL": 2,
    "ORT_ENABLE_BASIC": 0,
    "ORT_ENABLE_EXTENDED": 0,
    "ORT_ENABLE_LAYOUT": 0,
    "ORT_ENABLE_ALL": 0,
}


def test_bn_level_accepts_names_and_enums(digits_path: Path) -> None:
    counts = {getattr(ort.GraphOptimizationLevel, k): v for k, v in TRUE_COUNTS.items()}
    assert lesson06.bn_level.check(digits_path, counts, ort.GraphOptimizationLevel.ORT_ENABLE_BASIC).passed
    assert lesson06.bn_level.check(str(digits_path), TRUE_COUNTS, "enable_basic").passed


def test_bn_level_wrong_answers(digits_path: Path) -> None:
    ex = lesson06.bn_level
    # counts read from the original file at every level
    fb = ex.check(digits_path, dict.fromkeys(LEVELS, 2), "ORT_ENABLE_BASIC")
    assert_wrong(ex, fb)
    assert "same at every level" in fb.message
    # right counts, but the highest level named
    fb = ex.check(digits_path, TRUE_COUNTS, "ORT_ENABLE_ALL")
    assert_wrong(ex, fb)
    assert "lower level" in fb.message
    # BN still there at the named level
    assert_wrong(ex, ex.check(digits_path, TRUE_COUNTS, "ORT_DISABLE_ALL"))
    # a level missing, and a wrong count
    assert_wrong(ex, ex.check(digits_path, {k: v for k, v in TRUE_COUNTS.items() if k != "ORT_ENABLE_LAYOUT"}, "basic"))
    assert_wrong(ex, ex.check(digits_path, {**TRUE_COUNTS, "ORT_ENABLE_BASIC": 2, "ORT_ENABLE_EXTENDED": 1}, "basic"))
    assert_wrong(ex, ex.check(None, TRUE_COUNTS, "basic"))
    assert "empty" in ex.check(digits_path, {}, "basic").message


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


@pytest.mark.parametrize(
    ("answer", "says"),
    [
        (no_warmup, "first (cold) run"),
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


def test_mobile_flops_hard_coded_number_is_caught() -> None:
    right = flops_factory()(lesson06.mobile_block())
    fb = lesson06.mobile_flops.check(lambda model: right)
    assert_wrong(lesson06.mobile_flops, fb)
    assert lesson06.mobile_flops.check(flops_factory()).passed
    assert_wrong(lesson06.mobile_flops, lesson06.mobile_flops.check(right))
