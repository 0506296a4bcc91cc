"""Exercises of lesson 01 (what ONNX is and why): run any classifier with the real calls, place problems on the
pipeline, and (a transfer task) write the gate that decides whether a new file may replace a deployed model.

    from course_utils.lessons import lesson01
    lesson01.predict.check(my_function)
    lesson01.predict.hint()        # again for a more specific hint
    lesson01.predict.solution()    # only when you want to see it
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import onnx

from course_utils.lessons.exercises import Exercise, NotYet, expect
from course_utils.onnxfile.diagrams import STAGES

__all__ = ["STATEMENTS", "predict", "replacement_gate", "stages"]


# ------------------------------------------------------------------------------------------ 01.1


def _centroid_classifier(input_name: str, output_name: str) -> onnx.ModelProto:
    """A digits classifier written directly in ONNX (nearest centroid: scores = 2 x.c - |c|^2), no framework.

    The exercise's checker runs the learner's function on two of these, with different input and output
    names, so an answer that guesses the names instead of reading them from the session fails.
    """
    from course_utils.models.data import load_digits

    digits = load_digits()
    flat = digits.x_train.reshape(len(digits.x_train), -1)
    centroids = np.stack([flat[digits.y_train == k].mean(axis=0) for k in range(10)]).astype(np.float32)
    helper = onnx.helper
    x = helper.make_tensor_value_info(input_name, onnx.TensorProto.FLOAT, ["batch", 1, 8, 8])
    y = helper.make_tensor_value_info(output_name, onnx.TensorProto.FLOAT, ["batch", 10])
    weight = onnx.numpy_helper.from_array(2 * centroids.T, "weight")
    bias = onnx.numpy_helper.from_array(-(centroids**2).sum(axis=1), "bias")
    nodes = [
        helper.make_node("Flatten", [input_name], ["flat"]),
        helper.make_node("MatMul", ["flat", "weight"], ["product"]),
        helper.make_node("Add", ["product", "bias"], [output_name]),
    ]
    graph = helper.make_graph(nodes, "nearest_centroid", [x], [y], [weight, bias])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def _check_predict(fn: Callable[[str, np.ndarray], Any]) -> str:
    from course_utils.models.data import load_digits
    from course_utils.paths import artifact_path, atomic_output

    expect(
        callable(fn),
        "check needs your function itself, not what it returns",
        expected="a function predict(path, images)",
        got=type(fn).__name__,
    )
    images = load_digits().x_test
    for input_name, output_name in (("pixels", "scores"), ("image", "logits")):
        model = _centroid_classifier(input_name, output_name)
        path = artifact_path(f"exercise_01_1_{input_name}.onnx", lesson="01")
        with atomic_output(path) as partial:  # another kernel checking at the same time never reads half a file
            onnx.save(model, partial)
        flat = images.reshape(len(images), -1)
        weight, bias = (onnx.numpy_helper.to_array(t) for t in model.graph.initializer)
        right = (flat @ weight + bias).argmax(axis=1)
        where = f"a classifier whose input is named '{input_name}' and output '{output_name}'"
        try:
            result = fn(str(path), images)
        except Exception as error:  # the learner's code may fail in any way: report it as feedback
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
            raise NotYet(
                f"predict raised {type(error).__name__} on {where}: {first_line}",
                why="exporters choose input and output names, so they differ from model to model; "
                "code that serves any model cannot assume them",
            ) from None
        got = np.asarray(result)
        expect(
            got.shape == right.shape,
            f"predict returned an array of shape {got.shape} for {len(images)} images",
            why="the caller wants one class per image, not the model's raw scores",
            expected=f"shape {right.shape}: one class number per image",
            got=f"shape {got.shape}",
        )
        expect(
            np.issubdtype(got.dtype, np.integer),
            f"predict returned {got.dtype} values",
            why="a class is a whole number 0-9, usable as an index",
            expected="integer class numbers",
            got=str(got.dtype),
        )
        wrong = int(np.sum(got != right))
        expect(
            wrong == 0,
            f"{wrong} of {len(images)} predicted classes differ from the model's on {where}",
            why="each image's class is the position of its highest score",
            expected="the model's own classes for all images",
            got=f"{len(images) - wrong} of {len(images)} agree",
        )
    return "right classes from two models with different input and output names, read from each session"


predict = Exercise(
    "01.1",
    "Run any classifier with the real calls",
    _check_predict,
    hints=[
        "`session.run(None, feed)` needs a feed `{input name: array}`. The name is chosen at export time and "
        "differs between models: which call asks the session what it expects?",
        "`session.get_inputs()` lists the inputs; each has `.name`, `.shape` and `.type`. `session.run` returns a "
        "list with one array per output; the first holds one row of 10 scores per image.",
        "name = session.get_inputs()[0].name; (scores,) = session.run(None, {name: images}); "
        "return scores.argmax(axis=1)",
    ],
    solution_code="""
def predict(path, images):
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name  # chosen at export: read it, never guess it
    (scores,) = session.run(None, {name: images})
    return scores.argmax(axis=1)  # the class with the highest score, per image

lesson01.predict.check(predict)
""",
    giveaways=("get_inputs", "argmax", "axis=1"),
)


# ------------------------------------------------------------------------------------------ 01.2

#: Statements for exercise 01.2: at which stage of the pipeline diagram does each belong?
STATEMENTS: dict[str, str] = {
    "no_translation": "torch.onnx.export stops with an error: one operation in forward() has no ONNX equivalent.",
    "opset_declared": "The model declares that its nodes follow version 20 of the ai.onnx operator set.",
    "weights_beside": "Next to model.onnx lies model.onnx.data, which holds the weights.",
    "scores_differ": "Fed the same images, the exported model's scores differ from PyTorch's by 0.3.",
    "ir_too_new": "Creating the session fails: 'Unsupported model IR version: 14, max supported IR version: 13'.",
    "gpu_same_file": "The same .onnx file runs on an NVIDIA GPU once onnxruntime-gpu is installed and CUDA asked for.",
}

_RIGHT_STAGES: dict[str, str] = {
    "no_translation": "export",
    "opset_declared": "onnx",
    "weights_beside": "onnx",
    "scores_differ": "check",
    "ir_too_new": "session",
    "gpu_same_file": "provider",
}

#: The statements some tool reports (the first part of the rule); the others are facts about what a box holds.
_REPORTED = frozenset({"no_translation", "scores_differ", "ir_too_new"})

_STAGE_KEYS = tuple(s.key for s in STAGES)


def _check_stages(where: Any) -> str:
    expect(
        isinstance(where, dict),
        "answer with a dict {statement key: stage key}",
        got=type(where).__name__,
    )
    missing, unknown = sorted(set(STATEMENTS) - set(where)), sorted(set(where) - set(STATEMENTS))
    expect(
        not missing and not unknown,
        "the dict must answer each statement of STATEMENTS once",
        expected=sorted(STATEMENTS),
        got=f"missing {missing}, unknown {unknown}",
    )
    not_stages = sorted(k for k, v in where.items() if v not in _STAGE_KEYS)
    expect(
        not not_stages,
        f"{len(not_stages)} answer(s) name no stage of the diagram: {not_stages}",
        why="each answer is the key of one box of pipeline()",
        expected=f"one of {', '.join(_STAGE_KEYS)}",
        got=", ".join(repr(where[k]) for k in not_stages),
    )
    wrong = sorted(k for k in STATEMENTS if where[k] != _RIGHT_STAGES[k])
    reported = sorted(k for k in wrong if k in _REPORTED)
    expect(
        not wrong,
        f"{len(wrong)} of {len(STATEMENTS)} statements are not at the stage the rule gives: {wrong}",
        why="the rule has two parts, tried in order: a statement some tool reports (an error, a failed comparison) "
        "belongs to the stage of the tool that reports it, even when it is about something another box holds; "
        "only a fact no tool reports belongs to the box whose content it describes. Knowing where a problem shows "
        "up tells you which tool to reach for first"
        + (f". Reported by a tool: {', '.join(reported)}" if reported else ""),
        expected=f"{len(STATEMENTS)} of {len(STATEMENTS)} right",
        got=f"{len(STATEMENTS) - len(wrong)} of {len(STATEMENTS)} right",
    )
    return "every statement at its stage: exporter, file, checks, session, execution provider"


stages = Exercise(
    "01.2",
    "Place each problem on the pipeline",
    _check_stages,
    hints=[
        "Read each box of the diagram: its title and the tools or contents listed under it. First ask: does some "
        "tool report this (an error, a failed comparison)? Then it belongs to that tool's box. Only if no tool "
        "reports it, place it at the box whose content it describes.",
        "Three statements are reported by a tool: the exporter's error, a comparison of numbers (listed in one "
        "box), and an error when the runtime loads the file. The other three are facts: two about what the file "
        "holds, one about the hardware that runs the nodes.",
        "export: the exporter fails. onnx: what the file declares and stores. check: parity. session: loading. "
        "provider: a GPU without changing the file.",
    ],
    solution_code="""
where = {
    "no_translation": "export",  # the exporter meets an operation it cannot write as ONNX
    "opset_declared": "onnx",  # the file declares its opset (and IR version)
    "weights_beside": "onnx",  # the weights are part of the model: here as external data
    "scores_differ": "check",  # a parity test compares the numbers
    "ir_too_new": "session",  # the runtime reads the file when the session is created
    "gpu_same_file": "provider",  # the execution provider picks the hardware; the file stays the same
}
lesson01.stages.check(where)
""",
    giveaways=tuple(f"'{k}': '{v}'" for k, v in _RIGHT_STAGES.items())
    + tuple(f"{k} -> {v}" for k, v in _RIGHT_STAGES.items()),
)


# ------------------------------------------------------------------------------------------ 01.3

_RTOL, _ATOL = 1e-4, 1e-5  # the exercise's float32 tolerances, as in section 4


@dataclass(frozen=True)
class _Candidate:
    """One candidate file of exercise 01.3: what it is, whether it may replace the deployed model, and why."""

    label: str
    model: onnx.ModelProto
    may_replace: bool
    why: str


def _with_batch(model: onnx.ModelProto, batch: int | str) -> onnx.ModelProto:
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    for value in (*changed.graph.input, *changed.graph.output):
        dim = value.type.tensor_type.shape.dim[0]
        if isinstance(batch, int):
            dim.dim_value = batch
        else:
            dim.dim_param = batch
    return changed


def _scaled_initializer(model: onnx.ModelProto, name: str, scale: float = 1.0, shift: float = 0.0) -> onnx.ModelProto:
    changed = onnx.ModelProto()
    changed.CopyFrom(model)
    for tensor in changed.graph.initializer:
        if tensor.name == name:
            array = onnx.numpy_helper.to_array(tensor).astype(np.float32)
            tensor.CopyFrom(onnx.numpy_helper.from_array((array * np.float32(scale) + np.float32(shift)), name))
    return changed


def _candidates() -> list[_Candidate]:
    """The deployed classifier's possible replacements, half of them safe: the checks a gate needs, each alone."""
    deployed = _centroid_classifier("image", "logits")
    helper = onnx.helper
    renamed_output = _centroid_classifier("image", "scores")
    renamed_input = _centroid_classifier("pixels", "logits")
    as_double = _centroid_classifier("image", "logits_f32")
    as_double.graph.node.append(helper.make_node("Cast", ["logits_f32"], ["logits"], to=onnx.TensorProto.DOUBLE))
    as_double.graph.output[0].CopyFrom(helper.make_tensor_value_info("logits", onnx.TensorProto.DOUBLE, ["batch", 10]))
    mislabelled = onnx.ModelProto()
    mislabelled.CopyFrom(deployed)
    mislabelled.graph.value_info.append(helper.make_tensor_value_info("flat", onnx.TensorProto.FLOAT, ["batch", 10]))
    return [
        _Candidate("an identical copy", deployed, True, "it is the deployed model, byte for byte"),
        _Candidate(
            "a re-export whose batch dimension is called 'N' instead of 'batch'",
            _with_batch(deployed, "N"),
            True,
            "a dynamic dimension's name is only a label: every batch size still works, so the contract is kept",
        ),
        _Candidate(
            "a re-export whose weights differ in their last float32 digits",
            _scaled_initializer(deployed, "weight", scale=1 + 3e-7),
            True,
            "float32 results change in their last digits whenever arithmetic is reordered or rounded differently; "
            "parity means equal within the tolerance, not bit for bit",
        ),
        _Candidate(
            "an export with the batch fixed to 2",
            _with_batch(deployed, 2),
            False,
            "the deployed model takes any batch size; a server sending another size would fail after the update",
        ),
        _Candidate(
            "an export whose output is called 'scores'",
            renamed_output,
            False,
            "serving code reads outputs by name; the deployed model's output name is part of its contract",
        ),
        _Candidate(
            "an export whose input is called 'pixels'",
            renamed_input,
            False,
            "serving code feeds inputs by name; the deployed model's input name is part of its contract",
        ),
        _Candidate(
            "an export whose output is float64",
            as_double,
            False,
            "the numbers agree, but the element type is part of the contract: clients expecting float32 get "
            "another type",
        ),
        _Candidate(
            "a retrained model: every class the same, every score 0.01 higher",
            _scaled_initializer(deployed, "bias", shift=0.01),
            False,
            "the classes agree, but the scores a client may threshold or calibrate do not: parity compares the "
            "numbers, not the arg-max",
        ),
        _Candidate(
            "a file with a shape annotation the ONNX checker rejects (ONNX Runtime still runs it)",
            mislabelled,
            False,
            "ONNX Runtime runs it leniently, but the file breaks the specification: another runtime, or the next "
            "release, may refuse it",
        ),
    ]


def _check_replaces(fn: Any) -> str:
    import tempfile
    from pathlib import Path

    from course_utils.models.data import load_digits

    expect(
        callable(fn),
        "check needs your function itself, not what it returns",
        expected="a function replaces(candidate, deployed, images)",
        got=type(fn).__name__,
    )
    images = load_digits().x_test
    candidates = _candidates()
    with tempfile.TemporaryDirectory() as folder:
        deployed = Path(folder) / "deployed.onnx"
        onnx.save(candidates[0].model, deployed)
        for index, candidate in enumerate(candidates):
            path = Path(folder) / f"candidate_{index}.onnx"
            onnx.save(candidate.model, path)
            try:
                verdict = fn(str(path), str(deployed), images.copy())
            except Exception as error:  # the learner's code may fail in any way: report it as feedback
                first_line = str(error).strip().splitlines()[0] if str(error).strip() else ""
                raise NotYet(
                    f"replaces raised {type(error).__name__} for {candidate.label}: {first_line[:200]}",
                    why="a gate answers False for a file that cannot be loaded or run; the deployment job that "
                    "calls it must not crash",
                ) from None
            expect(
                isinstance(verdict, bool | np.bool_),
                "replaces must return True or False",
                got=type(verdict).__name__,
            )
            expect(
                bool(verdict) == candidate.may_replace,
                f"wrong verdict for {candidate.label}: your gate "
                + ("blocks it" if candidate.may_replace else "lets it replace the deployed model"),
                why=candidate.why,
                expected=candidate.may_replace,
                got=bool(verdict),
            )
    safe = sum(c.may_replace for c in candidates)
    return (
        f"right on all {len(candidates)} candidates: {safe} safe updates let through, {len(candidates) - safe} "
        "broken ones stopped (checker, contract, parity)"
    )


replacement_gate = Exercise(
    "01.3",
    "A gate for a new version of a model (transfer)",
    _check_replaces,
    hints=[
        "Three questions, each with a call from this lesson: is the file valid (section 4's check)? Does it keep "
        "the deployed model's contract (what a session says about its inputs and outputs)? Does it give the "
        "deployed model's numbers (section 4's parity)? Anything that raises on the way is a no.",
        "Build both sessions and compare, for inputs and outputs alike, each value's name, type and shape from "
        "get_inputs() and get_outputs(). A symbolic dimension comes back as a string, a fixed one as an int: compare "
        "whether each dimension is fixed, and its size, not the symbol's name.",
        "Wrap the checker and the candidate's session in try/except returning False; describe a session as "
        "[(v.name, v.type, [d if isinstance(d, int) else 'dynamic' for d in v.shape]) for v in values] for both "
        "lists; then run both on images and return np.allclose(new, old, rtol=1e-4, atol=1e-5) for every output.",
    ],
    solution_code="""
import numpy as np
import onnx
import onnxruntime as ort


def replaces(candidate, deployed, images):
    try:
        onnx.checker.check_model(onnx.load(candidate), full_check=True)
        new = ort.InferenceSession(candidate, providers=["CPUExecutionProvider"])
    except Exception:  # an invalid file, or one the runtime cannot load: no
        return False
    old = ort.InferenceSession(deployed, providers=["CPUExecutionProvider"])

    def contract(session):
        def describe(values):  # a symbolic dimension's name is a label: keep only "dynamic" or the fixed size
            return [(v.name, v.type, [d if isinstance(d, int) else "dynamic" for d in v.shape]) for v in values]

        return describe(session.get_inputs()), describe(session.get_outputs())

    if contract(new) != contract(old):
        return False
    feed = {old.get_inputs()[0].name: images}
    try:
        got = new.run(None, feed)
    except Exception:
        return False
    want = old.run(None, feed)
    return all(np.allclose(g, w, rtol=1e-4, atol=1e-5) for g, w in zip(got, want))


lesson01.replacement_gate.check(replaces)
""",
    giveaways=("allclose", "isinstance(d, int)", "'dynamic'", "try/except", "get_outputs"),
)
