"""Exercises of lesson 01 (what ONNX is and why): provider fallback, a version gate, a CI gate, the timeline.

from course_utils.lessons import lesson01
lesson01.pick_providers.check(my_function)
lesson01.pick_providers.hint()        # .hint(2) for more
lesson01.pick_providers.solution()
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import onnx

from ..exercises import Exercise, expect
from ..history import event
from ._answers import expect_valid_model, load_answer, run_answer

__all__ = [
    "DIGITS_CONTRACT",
    "TIMELINE_KEYS",
    "ci_gate",
    "pick_providers",
    "timeline",
    "versions",
]

#: What a digits classifier must look like to be deployed: names, dtypes, shapes (a str = any dynamic size).
DIGITS_CONTRACT: dict[str, dict[str, tuple[str, tuple[int | str, ...]]]] = {
    "inputs": {"image": ("float32", ("batch", 1, 8, 8))},
    "outputs": {"logits": ("float32", ("batch", 10))},
}

#: The events exercise 01.4 asks to order, deliberately shuffled.
TIMELINE_KEYS: tuple[str, ...] = ("lf_ai", "ort_open_source", "onnxjs_retired", "announced", "onnx_1_0")

_CPU = "CPUExecutionProvider"


# ------------------------------------------------------------------------------------------ 01.1


def _check_pick_providers(fn: Callable[[Sequence[str], Sequence[str]], Sequence[str]]) -> str:
    expect(callable(fn), "pass your function itself, e.g. check(pick_providers)", got=type(fn).__name__)
    gpu_box = ["TensorrtExecutionProvider", "CUDAExecutionProvider", _CPU]
    cases = [
        # (preferred, available, expected, what the case is about)
        (["CUDAExecutionProvider", _CPU], ["AzureExecutionProvider", _CPU], [_CPU], "drop what is not installed"),
        (gpu_box, gpu_box, gpu_box, "keep every available provider, in your order"),
        (
            ["CoreMLExecutionProvider", _CPU],
            [_CPU, "CoreMLExecutionProvider"],
            ["CoreMLExecutionProvider", _CPU],
            "your order of preference wins over the order of `available`",
        ),
        (
            ["CUDAExecutionProvider"],
            ["CUDAExecutionProvider", _CPU],
            ["CUDAExecutionProvider", _CPU],
            "always end with CPUExecutionProvider, the fallback for nodes the GPU cannot run",
        ),
        ([], ["AzureExecutionProvider", _CPU], [_CPU], "an empty wish list still gives a working session"),
        ([_CPU, "CUDAExecutionProvider", _CPU], [_CPU], [_CPU], "CPUExecutionProvider appears exactly once"),
    ]
    for preferred, available, expected, why in cases:
        got = fn(list(preferred), list(available))
        expect(
            got is not None and list(got) == expected,
            f"pick_providers({preferred}, {available}) is wrong: {why}",
            expected=expected,
            got=None if got is None else list(got),
        )
    return f"all {len(cases)} cases right: available providers in your order, CPU last as the fallback"


pick_providers = Exercise(
    "01.1",
    "Choose execution providers with a CPU fallback",
    _check_pick_providers,
    hints=[
        "Walk through `preferred` in order and keep the names that are also in `available`.",
        "Leave CPUExecutionProvider out of that walk, then append it once at the end: "
        "`[p for p in preferred if p in available and p != 'CPUExecutionProvider'] + ['CPUExecutionProvider']`.",
    ],
    solution_code="""
def pick_providers(preferred, available):
    # ONNX Runtime tries providers in list order; CPU last runs whatever the others cannot.
    chosen = [p for p in preferred if p in available and p != "CPUExecutionProvider"]
    return [*dict.fromkeys(chosen), "CPUExecutionProvider"]  # dict.fromkeys drops repeats, keeps order

lesson01.pick_providers.check(pick_providers)
""",
)


# ------------------------------------------------------------------------------------------ 01.2


def _toy_model(
    input_name: str = "image",
    input_type: int = onnx.TensorProto.FLOAT,
    batch: int | str = "N",
    classes: int = 10,
    output_name: str = "logits",
    *,
    ir_version: int = 8,
    opset: int = 17,
    ml_opset: int | None = None,
) -> onnx.ModelProto:
    """A tiny classifier-shaped model (Flatten + MatMul) with a chosen signature and versions, to test checks."""
    helper = onnx.helper
    x = helper.make_tensor_value_info(input_name, input_type, [batch, 1, 8, 8])
    y = helper.make_tensor_value_info(output_name, input_type, [batch, classes])
    np_type = helper.tensor_dtype_to_np_dtype(input_type)
    weight = onnx.numpy_helper.from_array(np.zeros((64, classes), dtype=np_type), "weight")
    nodes = [
        helper.make_node("Flatten", [input_name], ["flat"]),
        helper.make_node("MatMul", ["flat", "weight"], [output_name]),
    ]
    graph = helper.make_graph(nodes, "toy", [x], [y], [weight])
    opsets = [helper.make_opsetid("", opset)]
    if ml_opset is not None:
        opsets.append(helper.make_opsetid("ai.onnx.ml", ml_opset))
    model = helper.make_model(graph, opset_imports=opsets)
    model.ir_version = ir_version
    return model


def _check_versions(fn: Callable[[onnx.ModelProto], Sequence[str]]) -> str:
    from ..runtime import runtime_limits

    expect(callable(fn), "pass your function itself, e.g. check(version_problems)", got=type(fn).__name__)
    limits = runtime_limits()
    top_ir, top_opset, top_ml = limits.max_ir_version, limits.max_opset["ai.onnx"], limits.max_opset["ai.onnx.ml"]
    fine = {
        "IR 8, opset 17 (what tf2onnx writes)": _toy_model(),
        f"the newest this runtime reads (IR {top_ir}, opset {top_opset}, ai.onnx.ml {top_ml})": _toy_model(
            ir_version=top_ir, opset=top_opset, ml_opset=top_ml
        ),
        "opset 7, the oldest ONNX Runtime guarantees": _toy_model(ir_version=3, opset=7),
    }
    for what, model in fine.items():
        found = fn(model)
        expect(
            found is not None and list(found) == [],
            f"your function rejected a model this runtime loads: {what}",
            expected="[]",
            got=found,
        )
    broken = {
        f"IR version {top_ir + 1}, newer than this runtime reads": _toy_model(ir_version=top_ir + 1),
        f"ai.onnx opset {top_opset + 1}, newer than this runtime knows": _toy_model(opset=top_opset + 1),
        f"ai.onnx.ml opset {top_ml + 1}, newer than this runtime knows": _toy_model(ml_opset=top_ml + 1),
        "ai.onnx opset 6, older than ONNX Runtime guarantees": _toy_model(ir_version=3, opset=6),
    }
    for what, model in broken.items():
        found = fn(model)
        expect(
            bool(found),
            f"your function accepted a model it should reject: {what}",
            expected="a non-empty list of problems",
            got=found,
        )
    return f"accepts the {len(fine)} loadable models and rejects all {len(broken)} others"


versions = Exercise(
    "01.2",
    "Gate models on the versions the runtime reads",
    _check_versions,
    hints=[
        "`runtime_limits()` measures what this onnxruntime reads: `.max_ir_version` and "
        "`.max_opset['ai.onnx']` / `.max_opset['ai.onnx.ml']`. A model states its own in `model.ir_version` and "
        "`model.opset_import` (each entry has `.domain`, '' meaning ai.onnx, and `.version`).",
        "Compare model.ir_version with max_ir_version; for each opset_import entry compare .version with "
        "max_opset[domain or 'ai.onnx']; and reject an ai.onnx opset below 7.",
    ],
    solution_code="""
def version_problems(model):
    limits = runtime_limits()
    problems = []
    if model.ir_version > limits.max_ir_version:
        problems.append(f"IR version {model.ir_version} > {limits.max_ir_version}, the newest this runtime reads")
    for entry in model.opset_import:
        domain = entry.domain or "ai.onnx"
        top = limits.max_opset.get(domain)
        if top is not None and entry.version > top:
            problems.append(f"{domain} opset {entry.version} > {top}, the newest this runtime knows")
        if domain == "ai.onnx" and entry.version < 7:
            problems.append(f"ai.onnx opset {entry.version} < 7, the oldest ONNX Runtime guarantees")
    return problems

lesson01.versions.check(version_problems)
""",
)


# ------------------------------------------------------------------------------------------ 01.3


def _signature_problems(model: onnx.ModelProto, wanted: Mapping[str, Any]) -> list[str]:
    """What differs between a model's inputs/outputs and a contract like :data:`DIGITS_CONTRACT` (for 01.3)."""
    from ..verify import tensor_info

    problems: list[str] = []
    for kind, values in (("inputs", model.graph.input), ("outputs", model.graph.output)):
        have = {v.name: v for v in values}
        for name, (dtype, shape) in wanted[kind].items():
            if name not in have:
                problems.append(f"{kind[:-1]} '{name}' is missing (the model has: {', '.join(have) or 'none'})")
                continue
            info = tensor_info(have[name])
            got_dtype, got_shape = info.dtype, info.shape or ()
            if got_dtype != dtype:
                problems.append(f"{kind[:-1]} '{name}' is {got_dtype}, the contract says {dtype}")
            if len(got_shape) != len(shape):
                problems.append(f"{kind[:-1]} '{name}' has rank {len(got_shape)}, the contract says {len(shape)}")
                continue
            for axis, (want, got) in enumerate(zip(shape, got_shape, strict=True)):
                if isinstance(want, str) and isinstance(got, int):  # a name or an unknown (None) dim is dynamic
                    problems.append(f"{kind[:-1]} '{name}' dimension {axis} is fixed to {got}; it must be dynamic")
                elif isinstance(want, int) and got != want:
                    problems.append(f"{kind[:-1]} '{name}' dimension {axis} is {got}, the contract says {want}")
    return problems


def _ci_gate(path: str | os.PathLike[str], min_accuracy: float = 0.98) -> str:
    from ..data import load_digits

    expect(
        isinstance(path, str | os.PathLike),
        "pass the path of the .onnx file you exported",
        got=type(path).__name__,
        hint="e.g. artifact_path('digits_cnn_fixed.onnx', lesson='01')",
    )
    model = load_answer(path)
    expect_valid_model(model)
    problems = _signature_problems(model, DIGITS_CONTRACT)
    expect(
        not problems,
        "the model does not meet DIGITS_CONTRACT",
        expected="input image float32 [batch, 1, 8, 8], output logits float32 [batch, 10]",
        got="; ".join(problems),
        hint="export with input_names=['image'], output_names=['logits'] and "
        "dynamic_shapes={'x': {0: torch.export.Dim('batch')}} so any batch size works",
    )
    digits = load_digits()
    logits = run_answer(path, {"image": digits.x_test}, "running the model on the 360 test digits failed")["logits"]
    accuracy = float(np.mean(logits.argmax(axis=1) == digits.y_test))
    expect(
        accuracy >= min_accuracy,
        "the model runs but is not accurate enough",
        expected=f">= {min_accuracy:.2f}",
        got=f"{accuracy:.4f}",
        hint="export the trained model: course_utils.load_digits_cnn() (in eval mode), not a fresh DigitsCNN()",
    )
    return f"checker passed, signature meets the contract, accuracy {accuracy:.4f} on 360 test digits"


ci_gate = Exercise(
    "01.3",
    "Make the CI gate pass",
    _ci_gate,
    hints=[
        "The CI report names the problem: the batch dimension was frozen to the example's size at export.",
        "Export again with `dynamic_shapes={'x': {0: torch.export.Dim('batch')}}` (x is the name of "
        "DigitsCNN.forward's argument), keeping input_names=['image'] and output_names=['logits'].",
    ],
    solution_code="""
fixed_path = artifact_path("digits_cnn_fixed.onnx", lesson="01")
torch.onnx.export(
    cnn, (torch.from_numpy(digits.x_test[:2]),), fixed_path,
    input_names=["image"], output_names=["logits"],
    dynamic_shapes={"x": {0: torch.export.Dim("batch")}},  # any batch size, not just 2
    external_data=False, verbose=False,
)
lesson01.ci_gate.check(fixed_path)
""",
)


# ------------------------------------------------------------------------------------------ 01.4


def _check_timeline(order: Sequence[str], commonly_cited: Sequence[str]) -> str:
    order, cited = list(order), set(commonly_cited)
    expect(
        sorted(order) == sorted(TIMELINE_KEYS),
        "order must contain each key of TIMELINE_KEYS exactly once",
        expected=sorted(TIMELINE_KEYS),
        got=sorted(order),
    )
    right = sorted(TIMELINE_KEYS, key=lambda k: event(k).sort_key)
    for first, second in itertools.pairwise(order):
        a, b = event(first), event(second)
        expect(
            a.sort_key <= b.sort_key,
            f"'{first}' is placed before '{second}', but it happened later",
            hint="print(timeline_table()) lists every event with its date",
        )
    unverified = {k for k in TIMELINE_KEYS if not event(k).verified}
    expect(
        cited == unverified,
        "the order is right; the set of commonly cited (unverified) events is not",
        expected=sorted(unverified),
        got=sorted(cited),
        hint="in the table, unverified events say so in the source column",
    )
    return f"right order ({' -> '.join(right)}) and the unverified one spotted"


timeline = Exercise(
    "01.4",
    "Put ONNX's history in order",
    _check_timeline,
    hints=[
        "Use the table printed in section 2, or `event(key).when` for each key.",
        "`sorted(TIMELINE_KEYS, key=lambda k: event(k).sort_key)` orders them; `event(k).verified` tells "
        "which have a primary source.",
    ],
    solution_code="""
order = sorted(TIMELINE_KEYS, key=lambda k: event(k).sort_key)
commonly_cited = [k for k in TIMELINE_KEYS if not event(k).verified]
lesson01.timeline.check(order, commonly_cited)
""",
)
