"""Exercises of lesson 06 (making models fast): what each optimization level leaves of BatchNormalization, a correct
benchmark loop, the slowest operator type from a profile, and (transfer) counting FLOPs of a MobileNet-style
block with grouped and strided convolutions.

    from course_utils.lessons import lesson06
    lesson06.bn_level.check(bn_counts)
    lesson06.bn_level.hint()        # again for more
    lesson06.bn_level.solution()
"""

from __future__ import annotations

import math
import os
import statistics
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from course_utils.lessons.exercise_models.lesson06 import BN_MODELS, COLD_S, CREATE_S, CheckedSession, bn_model
from course_utils.lessons.exercises import Exercise, NotYet, expect

__all__ = ["LEVEL_NAMES", "benchmark_loop", "bn_level", "mobile_block", "mobile_flops", "slowest_op"]

#: The five graph optimization levels, lowest first.
LEVEL_NAMES: tuple[str, ...] = (
    "ORT_DISABLE_ALL",
    "ORT_ENABLE_BASIC",
    "ORT_ENABLE_EXTENDED",
    "ORT_ENABLE_LAYOUT",
    "ORT_ENABLE_ALL",
)


def _level_name(level: Any) -> str | None:
    """``"ORT_ENABLE_BASIC"`` for that string, ``"enable_basic"``, or ``ort.GraphOptimizationLevel.ORT_ENABLE_BASIC``."""
    name = getattr(level, "name", level)
    if not isinstance(name, str):
        return None
    name = name.upper()
    name = name if name.startswith("ORT_") else f"ORT_{name}"
    return name if name in LEVEL_NAMES else None


# ------------------------------------------------------------------------------------------ 06.1


def _bn_counts(model_path: str | os.PathLike[str]) -> dict[str, int]:
    """The number of BatchNormalization nodes ONNX Runtime leaves at each level (optimized graphs saved to a
    temporary folder; the learner's artifacts are never touched)."""
    import onnxruntime as ort

    counts: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in LEVEL_NAMES:
            options = ort.SessionOptions()
            options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, name)
            options.optimized_model_filepath = str(Path(folder) / f"{name}.onnx")
            options.log_severity_level = 3
            ort.InferenceSession(str(model_path), options, providers=["CPUExecutionProvider"])
            saved = onnx.load(options.optimized_model_filepath)
            counts[name] = sum(node.op_type == "BatchNormalization" for node in saved.graph.node)
    return counts


def _check_bn_counts(bn_counts: Any) -> str:
    expect(bn_counts is not None, "no function yet: define bn_counts(path) and pass it")
    expect(
        callable(bn_counts),
        "pass your function itself (bn_counts), not the counts it returned",
        why="the check runs it on other models, whose counts differ from the DigitsCNN's",
        got=type(bn_counts).__name__,
    )
    seen: dict[str, list[int]] = {}
    with tempfile.TemporaryDirectory() as folder:
        for kind in BN_MODELS:
            path = Path(folder) / f"bn_{kind}.onnx"
            onnx.save(bn_model(kind), str(path))
            original = sum(node.op_type == "BatchNormalization" for node in bn_model(kind).graph.node)
            where = f"a model with {original} BatchNormalization node(s) ({_BN_WHERE[kind]})"
            try:
                counts = bn_counts(str(path))
            except Exception as error:  # the learner's code may fail in any way: say where
                raise NotYet(
                    f"bn_counts raised {type(error).__name__} on {where}",
                    why="the check passes the path of a .onnx file, as a str",
                    got=str(error).strip().splitlines()[0][:200] if str(error).strip() else None,
                ) from None
            expect(
                isinstance(counts, Mapping),
                "bn_counts must return a dict {level: number of BatchNormalization nodes}",
                got=type(counts).__name__,
            )
            expect(len(counts) > 0, f"bn_counts returned an empty dict for {where}: it needs one entry per level")
            named: dict[str, Any] = {}
            for key, value in counts.items():
                name = _level_name(key)
                expect(
                    name is not None,
                    f"{key!r} is not a graph optimization level",
                    expected="the names of ort.GraphOptimizationLevel's members (or the members themselves)",
                )
                named[str(name)] = value
            missing = [name for name in LEVEL_NAMES if name not in named]
            expect(not missing, "the dict must have an entry for each of the five levels", got=f"missing {missing}")
            truth = _bn_counts(path)
            answer = [named[name] for name in LEVEL_NAMES]
            expected = [truth[name] for name in LEVEL_NAMES]
            if answer != expected and len(set(answer)) == 1 and answer[0] == original:
                raise NotYet(
                    f"for {where} your counts are the same at every level: they describe the graph you loaded, "
                    "not the one each session ran",
                    why="ONNX Runtime optimizes a copy of the graph in memory; the file on disk never changes",
                    expected="the BatchNormalization count of each level's optimized graph",
                    got=f"{answer} (lowest level first)",
                )
            expect(
                answer == expected,
                f"for {where} some counts differ from the optimized graphs ONNX Runtime produces",
                why="the counts must come from each level's optimized graph; numbers written from the lesson's "
                "model fit no other model",
                expected="one count per level, read from that level's optimized model",
                got=f"{answer} (lowest level first)",
            )
            seen[kind] = expected
    pairs = seen["pairs"]
    first = next((name for name, count in zip(LEVEL_NAMES, pairs, strict=True) if count == 0), None)
    kept = [kind for kind in ("input", "shared") if seen[kind][1] > 0]
    return (
        f"counts right on all {len(BN_MODELS)} models: Conv+BatchNormalization pairs are gone at {first} (folded "
        f"into the Conv weights), while a BatchNormalization with no Conv of its own to fold into survives it "
        f"({', '.join(_BN_WHERE[k] for k in kept) or 'none here'})"
    )


_BN_WHERE = {
    "pairs": "each after a Conv",
    "mixed": "two after a Conv, one after a Relu",
    "shared": "after a Conv whose output also feeds an Add",
    "input": "on the raw input, before any Conv",
}


bn_level = Exercise(
    "06.1",
    "Count the BatchNormalization nodes each optimization level leaves",
    _check_bn_counts,
    hints=[
        "Build one session per level and save the graph each one runs: a SessionOptions attribute names a file "
        "for the optimized model. Then count in the saved file, not in the one you loaded.",
        "For each level name: options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, name); "
        "options.optimized_model_filepath = a file name of your own per level; create the session on path; load "
        "that file with onnx.load and count the nodes whose op_type is 'BatchNormalization'.",
        "Levels in order: ORT_DISABLE_ALL, ORT_ENABLE_BASIC, ORT_ENABLE_EXTENDED, ORT_ENABLE_LAYOUT, "
        "ORT_ENABLE_ALL. Save each optimized graph in a temporary folder (tempfile.TemporaryDirectory) so the "
        "function works for any model it is given.",
    ],
    solution_code="""\
import tempfile
from pathlib import Path

import onnx
import onnxruntime as ort

LEVEL_NAMES = ["ORT_DISABLE_ALL", "ORT_ENABLE_BASIC", "ORT_ENABLE_EXTENDED", "ORT_ENABLE_LAYOUT", "ORT_ENABLE_ALL"]


def solution_bn_counts(path):
    counts = {}
    with tempfile.TemporaryDirectory() as folder:
        for name in LEVEL_NAMES:
            options = ort.SessionOptions()
            options.graph_optimization_level = getattr(ort.GraphOptimizationLevel, name)
            options.optimized_model_filepath = str(Path(folder) / f"{name}.onnx")
            options.log_severity_level = 3
            ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
            saved = onnx.load(options.optimized_model_filepath)
            counts[name] = sum(node.op_type == "BatchNormalization" for node in saved.graph.node)
    return counts


lesson06.bn_level.check(solution_bn_counts)
""",
    giveaways=("optimized_model_filepath", "TemporaryDirectory"),
)


# ------------------------------------------------------------------------------------------ 06.2


def _check_benchmark_loop(my_benchmark: Any) -> str:
    expect(my_benchmark is not None, "no function yet: define my_benchmark(make_session, feed) and pass it")
    expect(callable(my_benchmark), "pass your function itself (my_benchmark), not its result", got=type(my_benchmark))
    log: dict[str, Any] = {"created": 0, "runs": 0, "warm_ms": [], "slow_ms": {}}
    feed = {"x": np.ones((1, 16), dtype=np.float32)}
    result = my_benchmark(lambda: CheckedSession(log), feed)
    expect(
        isinstance(result, list | tuple | np.ndarray) and len(result) > 0,
        "my_benchmark must return the list of timings, one per timed run",
        got=type(result).__name__,
    )
    try:
        timings = [float(t) for t in result]
    except (TypeError, ValueError):
        raise NotYet("every timing must be a number (milliseconds)", got=repr(result)[:200]) from None
    expect(
        all(math.isfinite(t) and t > 0 for t in timings),
        "every timing must be a positive number",
        got=[t for t in timings if not (math.isfinite(t) and t > 0)][:5],
    )
    expect(log["created"] >= 1, "your function never created a session with make_session()")
    expect(
        log["created"] == 1,
        f"your function created {log['created']} sessions",
        why="a session is built once and reused; building one costs far more than a run, so it dominates "
        "whatever is timed and is not what a server does per request",
    )
    expect(
        len(timings) >= 20,
        f"only {len(timings)} timed runs",
        why="percentiles need many samples: with a handful, one pause on a shared machine moves the median",
        expected="at least 20 timed runs",
    )
    expect(
        log["runs"] >= len(timings),
        "you returned more timings than session.run calls were made",
        got=f"{len(timings)} timings, {log['runs']} runs",
    )
    worst = max(timings)
    if worst >= COLD_S * 1e3 * 0.7:
        # Which slow part did the learner time? The one whose duration (on the wall clock or a CPU-time clock;
        # they differ when the machine is busy) is nearest the worst timing.
        slow = log["slow_ms"]
        durations = [(abs(math.log(worst / ms)), part) for part, pair in slow.items() for ms in pair if ms > 0]
        if "creation" in slow and "cold" in slow:  # a region holding the creation often holds the first run too
            both = [a + b for a, b in zip(slow["creation"], slow["cold"], strict=True)]
            durations += [(abs(math.log(worst / ms)), "creation") for ms in both]
        part = min(durations)[1] if durations else "creation"
        expect(
            part != "creation",
            f"one timing is {worst:.1f} ms: the session's creation is inside the timed region",
            why=f"this session takes {CREATE_S * 1e3:.0f} ms to create and runs in microseconds; a benchmark "
            "measures runs only",
        )
        raise NotYet(
            f"one timing is {worst:.1f} ms: the first (cold) run of the session was timed",
            why="first runs allocate memory and choose kernels; this session's first run takes 60 ms, later "
            "ones microseconds",
            expected="no timing from the session's first run",
        )
    expect(
        len(set(timings)) > 1,
        "every timing is identical",
        why="one number repeated means the loop was timed as a whole and divided; then there is no spread, "
        "no p90 or p99",
        expected="one measurement per run",
    )
    real = statistics.median(log["warm_ms"]) if log["warm_ms"] else 0.0
    median = statistics.median(timings)
    expect(
        median > real / 100,
        f"your median is {median:.6f}, but a run of this session takes about {real:.4f} ms",
        why="the timings look like seconds; the exercise (and the lesson's tables) use milliseconds",
        expected="milliseconds",
    )
    expect(
        median < max(real * 100, 5.0),
        f"your median is {median:.1f}, but a run of this session takes about {real:.4f} ms",
        why="the timings look like microseconds or nanoseconds, or something besides session.run is timed",
        expected="milliseconds for session.run alone",
    )
    warm = log["runs"] - len(timings)
    return f"{len(timings)} timed runs after {warm} warm-up run(s); median {median:.4f} ms"


benchmark_loop = Exercise(
    "06.2",
    "Write a correct benchmark loop",
    _check_benchmark_loop,
    hints=[
        "Three phases, in order: build the session (not timed), run it a few times (not timed), then time each "
        "run on its own.",
        "Call make_session() once, before any timing. Then a short loop of session.run(None, feed) whose time "
        "you throw away. Then for each of N >= 20 runs: t0 = time.perf_counter(); session.run(None, feed); "
        "append (time.perf_counter() - t0) * 1000.",
        "session = make_session(); for _ in range(5): session.run(None, feed); then the timed loop appending "
        "milliseconds per run, and return the list.",
    ],
    solution_code="""\
import time


def solution_benchmark(make_session, feed, runs=50, warmup=5):
    session = make_session()  # built once, never timed
    for _ in range(warmup):  # first runs allocate and choose kernels: not timed
        session.run(None, feed)
    timings_ms = []
    for _ in range(runs):
        t0 = time.perf_counter()
        session.run(None, feed)
        timings_ms.append((time.perf_counter() - t0) * 1000)
    return timings_ms


lesson06.benchmark_loop.check(solution_benchmark)
""",
    giveaways=("range(5)", "warmup", "warm-up loop", "make_session() once", "* 1000"),
)


# ------------------------------------------------------------------------------------------ 06.3


def _trace_totals(path: Path) -> tuple[dict[str, float], dict[str, float], dict[str, int]]:
    """Per op type: total kernel ms; per node: total ms; per op type: number of events."""
    from course_utils.runtime.profiling import read_trace

    trace = read_trace(path)
    counts: dict[str, int] = {}
    for event in trace.kernels:
        counts[event.op_type] = counts.get(event.op_type, 0) + 1
    return trace.by_op_type(), {n: ms for n, (_, ms) in trace.by_node().items()}, counts


def _check_slowest_op(trace_path: Any, totals: Any, slowest: Any) -> str:
    expect(trace_path is not None, "no trace yet: pass the path session.end_profiling() returned")
    expect(
        isinstance(trace_path, str | os.PathLike) and Path(trace_path).is_file(),
        "the first argument must be the path of the profile JSON file",
        got=repr(trace_path),
    )
    try:
        truth, by_node, event_counts = _trace_totals(Path(trace_path))
    except Exception as error:
        raise NotYet(f"that file is not an ONNX Runtime profile: {error}") from None
    expect(bool(truth), "this profile holds no node events", why="profile at least one session.run call")
    expect(
        isinstance(totals, Mapping),
        "totals must be a dict {op type: total milliseconds}",
        got=type(totals).__name__,
    )
    expect(len(totals) > 0, "totals is empty: it needs one entry per operator type in the trace")
    keys = set(map(str, totals))
    if keys and keys <= set(by_node) and not keys <= set(truth):
        raise NotYet(
            "the keys of totals are node names, not operator types",
            why="many nodes share an op type; the question is which kind of operator costs the most in total",
            expected=sorted(truth)[:6],
        )
    expect(
        keys == set(truth),
        "totals must have one entry per operator type in the trace's node events",
        expected=sorted(truth),
        got=sorted(keys),
    )
    values = {str(k): float(v) for k, v in totals.items()}
    if all(values[k] == event_counts[k] for k in truth):
        raise NotYet(
            "totals holds how many events each op type has, not how long they took",
            why="a cheap op run many times can outnumber an expensive one",
        )
    ratios = [values[k] / truth[k] for k in truth if truth[k] > 0]
    if ratios and all(abs(r - 1000) < 1 for r in ratios):
        raise NotYet("the totals are 1000x the trace's durations in milliseconds", why="'dur' is in microseconds")
    off = [k for k in truth if not math.isclose(values[k], truth[k], rel_tol=1e-3, abs_tol=1e-3)]
    expect(
        not off,
        "some totals differ from the sum of that op type's kernel durations in the trace",
        why="a trace also holds events that are not a node's work (boundaries, whole runs, session set-up)",
        got=f"differ for {off[:5]}",
    )
    top = next(iter(truth))
    expect(slowest is not None, "slowest is still None: name the operator type with the largest total")
    expect(
        str(slowest) == top,
        f"{slowest!r} is not the op type with the largest total in your own totals",
        got=f"{slowest}: {values.get(str(slowest), 0.0):.3f} ms",
    )
    return f"{top} takes {100 * truth[top] / sum(truth.values()):.0f}% of the kernel time in this trace"


slowest_op = Exercise(
    "06.3",
    "Find the slowest operator type in a profile",
    _check_slowest_op,
    hints=[
        "The profile is JSON: a list of events. Only some of them are node runs; each has a duration and, in "
        "its 'args', the operator type.",
        "Keep events with event['cat'] == 'Node' whose name ends with '_kernel_time'; add event['dur'] "
        "(microseconds) to totals[event['args']['op_name']].",
        "Divide by 1000 for milliseconds; slowest = max(totals, key=totals.get).",
    ],
    solution_code="""\
import json
from collections import defaultdict

solution_totals = defaultdict(float)
with open(trace_path) as f:
    for event in json.load(f):
        if event.get("cat") == "Node" and event["name"].endswith("_kernel_time"):
            solution_totals[event["args"]["op_name"]] += event["dur"] / 1000
solution_slowest = max(solution_totals, key=solution_totals.get)
lesson06.slowest_op.check(trace_path, dict(solution_totals), solution_slowest)
""",
    giveaways=("_kernel_time", "op_name", "/ 1000", "max(totals"),
)


# ------------------------------------------------------------------------------------------ 06.4


def mobile_block(
    batch: int = 1, channels: int = 32, size: int = 56, out_channels: int = 64, stride: int = 2, seed: int = 0
) -> onnx.ModelProto:
    """A MobileNet-style block: depthwise 3x3 Conv (``group == channels``, ``stride``), pointwise 1x1 Conv,
    Relu, global average pool, and a ``Gemm`` classifier with 10 outputs. Input ``(batch, channels, size, size)``."""
    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> TensorProto:
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.1, name)

    nodes = [
        helper.make_node(
            "Conv",
            ["x", "dw_w"],
            ["dw"],
            name="depthwise",
            group=channels,
            strides=[stride, stride],
            pads=[1] * 4,
            kernel_shape=[3, 3],
        ),
        helper.make_node("Relu", ["dw"], ["dw_r"], name="relu_dw"),
        helper.make_node("Conv", ["dw_r", "pw_w", "pw_b"], ["pw"], name="pointwise", kernel_shape=[1, 1]),
        helper.make_node("Relu", ["pw"], ["pw_r"], name="relu_pw"),
        helper.make_node("GlobalAveragePool", ["pw_r"], ["pool"], name="pool"),
        helper.make_node("Flatten", ["pool"], ["flat"], name="flatten"),
        helper.make_node("Gemm", ["flat", "fc_w", "fc_b"], ["logits"], name="classifier", transB=1),
    ]
    graph = helper.make_graph(
        nodes,
        "mobile_block",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, channels, size, size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [batch, 10])],
        [
            weight("dw_w", channels, 1, 3, 3),
            weight("pw_w", out_channels, channels, 1, 1),
            weight("pw_b", out_channels),
            weight("fc_w", 10, out_channels),
            weight("fc_b", 10),
        ],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)
    onnx.checker.check_model(model)
    return model


def _flops_parts(model: onnx.ModelProto) -> dict[str, int]:
    from course_utils.onnxfile.flops import count_flops

    return {node.name: node.flops for node in count_flops(model).nodes}


def _check_mobile_flops(my_flops: Any) -> str:
    expect(my_flops is not None, "no function yet: define my_flops(model) -> int and pass it")
    expect(callable(my_flops), "pass your function itself (my_flops), not a number", got=type(my_flops).__name__)
    # The block the lesson shows, and variants the function has never seen (a count must come from the graph).
    cases = [mobile_block(), mobile_block(batch=2, channels=16, size=32, out_channels=24, stride=1)]
    cases.append(mobile_block(batch=1, channels=8, size=20, out_channels=40, stride=2))
    # An odd size with a stride: the output is not the input size divided by the stride (15 -> 8, not 7.5)
    cases.append(mobile_block(batch=3, channels=12, size=15, out_channels=20, stride=2))
    for model in cases:
        parts = _flops_parts(model)
        truth = sum(parts.values())
        shape = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim]
        try:
            got = my_flops(model)
        except Exception as error:
            raise NotYet(f"my_flops raised {type(error).__name__}: {error}", got=f"input {shape}") from None
        expect(
            isinstance(got, int | np.integer | float) and not isinstance(got, bool),
            "my_flops must return a number",
            got=type(got).__name__,
        )
        if got == truth:
            continue
        where = f"for the block with input {shape}"
        dw, fc = parts["depthwise"], parts["classifier"]
        channels = shape[1]
        if math.isclose(got, truth / 2):
            raise NotYet(
                f"your count is half the expected FLOPs {where}",
                why="one multiply-accumulate is two floating-point operations (a multiply and an add)",
            )
        if math.isclose(got, truth + dw * (channels - 1)):
            raise NotYet(
                f"the depthwise convolution is counted {channels}x too large {where}",
                why="in a grouped convolution each output channel reads only the input channels of its group",
            )
        stride = next(a.ints[0] for a in model.graph.node[0].attribute if a.name == "strides")
        if stride > 1 and math.isclose(got, truth + dw * (stride**2 - 1)):
            raise NotYet(
                f"your count is too large {where}: the strided convolution's output is smaller than its input",
                why="a convolution does its work once per output position, and a stride skips positions",
                got=got,
                expected=f"a smaller total; the depthwise conv here has stride {stride}",
            )
        if stride > 1 and shape[2] % stride:
            # Spatial work of the strided depthwise conv and the pointwise conv after it, with the output size
            # taken as H / s or H // s instead of what the graph computes (ceil(H / s) with pad 1, kernel 3).
            real_area = (-(-shape[2] // stride)) ** 2
            spatial = parts["depthwise"] + parts["pointwise"]
            guesses = [
                truth - spatial + spatial * area / real_area
                for area in ((shape[2] / stride) ** 2, (shape[2] // stride) ** 2)
            ]
            if any(math.isclose(got, guess, rel_tol=1e-6) for guess in guesses):
                raise NotYet(
                    f"your count is wrong {where}: the strided convolution's output size is off",
                    why="with an odd input size the output size is not the input size divided by the stride: the "
                    "padding and the kernel's size decide it, and shape inference knows it",
                    got=got,
                )
        if math.isclose(got, truth - fc):
            raise NotYet(f"the classifier's Gemm is missing from your count {where}", why="Gemm is a matrix product")
        raise NotYet(
            f"your count is wrong {where}",
            why="the expected count is 2 x multiply-accumulates of every Conv and Gemm",
            got=got,
            expected=f"{len(parts)} counted nodes: Conv, Conv, Gemm",
        )
    return f"right on all {len(cases)} blocks (the first is {sum(_flops_parts(cases[0]).values()):,} FLOPs)"


mobile_flops = Exercise(
    "06.4",
    "Transfer: count the FLOPs of a MobileNet block (grouped and strided convolutions)",
    _check_mobile_flops,
    hints=[
        "Shape inference gives every tensor's shape; the work of a Conv depends on its output shape, its weight "
        "shape and its 'group' attribute.",
        "onnx.shape_inference.infer_shapes(model), then a dict name -> shape from graph.value_info, inputs, "
        "outputs and initializers. For a Conv: 2 * N * C_out * H_out * W_out * (weight.shape[1]) * kH * kW - the "
        "weight's second dimension is already C_in / group.",
        "For a Gemm with transB=1: 2 * M * K * N where A is (M, K) and B is (N, K). Sum the Conv and Gemm counts.",
    ],
    solution_code="""\
import math

import onnx


def solution_flops(model):
    inferred = onnx.shape_inference.infer_shapes(model)
    graph = inferred.graph
    shapes = {t.name: tuple(t.dims) for t in graph.initializer}
    for value in [*graph.input, *graph.value_info, *graph.output]:
        shapes[value.name] = tuple(d.dim_value for d in value.type.tensor_type.shape.dim)
    total = 0
    for node in graph.node:
        if node.op_type == "Conv":
            n, c_out, *spatial = shapes[node.output[0]]
            weight = shapes[node.input[1]]  # (C_out, C_in / group, kH, kW)
            total += 2 * n * c_out * math.prod(spatial) * weight[1] * math.prod(weight[2:])
        elif node.op_type == "Gemm":
            (m, k), w = shapes[node.input[0]], shapes[node.input[1]]
            total += 2 * m * k * w[0]  # B is (N, K): transB=1
    return total


lesson06.mobile_flops.check(solution_flops)
""",
    giveaways=("weight[1]", "weight.shape[1]", "// group", "/ group", "2 * n * c_out"),
)
