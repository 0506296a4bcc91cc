"""Lesson 04's exercise checks: every solution passes; typical wrong answers get specific feedback."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import onnx
import pytest
from course_test_helpers import artifacts_in, assert_wrong, export_digits_cnn
from onnx import TensorProto, helper, numpy_helper

from course_utils import paths
from course_utils.lessons import lesson04
from course_utils.lessons.exercises import EXERCISES, Exercise, Feedback, SolutionRun

torch = pytest.importorskip("torch")


@pytest.fixture(scope="module")
def digits_path(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """artifacts/04/digits_cnn.onnx as the lesson exports it, in a temporary artifacts folder."""
    with artifacts_in(tmp_path_factory.mktemp("artifacts")):
        path = paths.artifact_path("digits_cnn.onnx", lesson="04")
        export_digits_cnn(path)
        yield path


def run_solution(exercise: Exercise) -> SolutionRun:
    """Run the hidden solution as the notebook's Solutions cell does."""
    return exercise.run_solution({"lesson04": lesson04})


def _affine(
    mul: float = 2.0,
    add: float = 1.0,
    in_name: str = "x",
    shape: list | None = None,
    constants_as_nodes: bool = False,
) -> onnx.ModelProto:
    x = helper.make_tensor_value_info(in_name, TensorProto.FLOAT, shape or ["N", 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 3])
    two = numpy_helper.from_array(np.array(mul, dtype=np.float32), "two")
    one = numpy_helper.from_array(np.array(add, dtype=np.float32), "one")
    nodes = [helper.make_node("Mul", [in_name, "two"], ["t"]), helper.make_node("Add", ["t", "one"], ["y"])]
    inits = [two, one]
    if constants_as_nodes:
        nodes = [
            helper.make_node("Constant", [], ["two"], value=two),
            helper.make_node("Constant", [], ["one"], value=one),
            *nodes,
        ]
        inits = []
    graph = helper.make_graph(nodes, "affine", [x], [y], inits)
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)], ir_version=10)


def assert_not_yet(feedback: Feedback, *fragments: str) -> None:
    assert_wrong(EXERCISES[feedback.exercise], feedback, *fragments)


# ------------------------------------------------------------------------------------------------ 04.1
def test_build_graph_solution_passes() -> None:
    feedback = run_solution(lesson04.build_graph)
    assert feedback.passed, str(feedback)


def test_build_graph_accepts_a_saved_file(tmp_path: Path) -> None:
    path = tmp_path / "affine.onnx"
    onnx.save(_affine(), path)
    assert lesson04.build_graph.check(path).passed
    assert lesson04.build_graph.check(str(path)).passed


@pytest.mark.parametrize(
    "answer,fragments",
    [
        (None, ["no answer yet"]),
        (42, ["pass an onnx.ModelProto", "int"]),
        ("nowhere/affine.onnx", ["there is no file at nowhere/affine.onnx yet"]),
        (_affine(in_name="inp"), ["exactly one input, named 'x'", "['inp']"]),
        (_affine(shape=["N", 4]), ["shape [N, 3]", "[N, 4]"]),
        (_affine(shape=[2, 3]), ["shape [N, 3]"]),
        (_affine(add=2.0), ["y is not 2 * x + 1"]),
        (_affine(mul=1.0, add=2.0), ["y is not 2 * x + 1"]),
        (_affine(constants_as_nodes=True), ["initializers, not Constant nodes"]),
    ],
    ids=[
        "none",
        "int",
        "missing-file",
        "input-name",
        "input-width",
        "fixed-batch",
        "wrong-add",
        "wrong-mul",
        "constants",
    ],
)
def test_build_graph_rejects_wrong_answers(answer, fragments) -> None:
    assert_not_yet(lesson04.build_graph.check(answer), *fragments)


def test_build_graph_reports_a_file_that_is_not_onnx(tmp_path: Path) -> None:
    path = tmp_path / "notes.onnx"
    path.write_text("y = 2x + 1\n")
    assert_not_yet(lesson04.build_graph.check(path), "not an ONNX model")


def test_build_graph_reports_a_broken_graph() -> None:
    model = _affine()
    model.graph.node[1].input[0] = "not_defined_anywhere"
    assert_not_yet(lesson04.build_graph.check(model), "the ONNX checker rejects the model", "not_defined_anywhere")


# ------------------------------------------------------------------------------------------------ 04.2
def test_bytes_per_op_solution_passes(digits_path: Path) -> None:
    run = run_solution(lesson04.bytes_per_op)
    assert run.passed, str(run)
    assert "Gemm 133,928 B" in run.detail and "Conv 19,200 B" in run.detail


TRUTH = {"Conv": 19_200, "BatchNormalization": 768, "Gemm": 133_928}


def test_bytes_per_op_is_not_on_any_printed_card(digits_path: Path) -> None:
    # The model card prints initializer sizes, never their sums per operator type.
    from course_utils.inspect import summarize

    card = str(summarize(digits_path))
    assert all(f"{TRUTH[op]:,}" not in card and str(TRUTH[op]) not in card for op in ("Conv", "Gemm"))


def test_bytes_per_op_rejects_wrong_answers(digits_path: Path) -> None:
    check = lesson04.bytes_per_op.check
    assert check(digits_path, dict(TRUTH)).passed
    assert check(digits_path, {k: np.int64(v) for k, v in TRUTH.items()}).passed
    assert_not_yet(check(digits_path, None), "no answer yet")
    # the card's largest initializer, as if it answered the question
    assert_not_yet(check(digits_path, {"Gemm": 131_072}), "operator types that read initializers")
    # counted by name prefix instead of operator type
    assert_not_yet(check(digits_path, {"features": 19_968, "classifier": 133_928}), "operator types")
    # values instead of bytes
    values = {k: v // 4 for k, v in TRUTH.items()}
    assert_not_yet(check(digits_path, values), "the bytes for", "count of values")
    # only each node's weight (its second input), no biases or BatchNorm statistics
    model = onnx.load(digits_path)
    sizes = {t.name: numpy_helper.to_array(t).nbytes for t in model.graph.initializer}
    weights_only = dict(TRUTH)
    weights_only["Conv"] = sum(sizes[n.input[1]] for n in model.graph.node if n.op_type == "Conv")
    assert_not_yet(check(digits_path, weights_only), "the bytes for Conv", "only one of the initializers")
    assert_not_yet(check(digits_path, {**TRUTH, "Conv": "19 KiB"}), "whole number of bytes")
    assert_not_yet(check(_affine(), dict(TRUTH)), "digits_cnn.onnx")


# ------------------------------------------------------------------------------------------------ 04.3
def test_add_metadata_solution_passes(digits_path: Path) -> None:
    feedback = run_solution(lesson04.add_metadata)
    assert feedback.passed, str(feedback)


def _with_metadata(path: Path, entries: list[tuple[str, str]]) -> onnx.ModelProto:
    model = onnx.load(path)
    for key, value in entries:
        model.metadata_props.add(key=key, value=value)
    return model


GOOD = [("labels", "0,1,2,3,4,5,6,7,8,9"), ("dataset", "scikit-learn digits 8x8"), ("author", "me")]


def test_add_metadata_rejects_wrong_answers(digits_path: Path) -> None:
    check = lesson04.add_metadata.check
    assert check(_with_metadata(digits_path, GOOD)).passed
    assert_not_yet(check(onnx.load(digits_path)), "missing metadata: labels, dataset, author")
    assert_not_yet(check(_with_metadata(digits_path, GOOD[:2])), "missing metadata: author")
    wrong = [("labels", "0, 1, 2, 3, 4, 5, 6, 7, 8, 9"), *GOOD[1:]]
    assert_not_yet(check(_with_metadata(digits_path, wrong)), "'labels' has another value", "'0,1,2,3,4,5,6,7,8,9'")
    assert_not_yet(check(_with_metadata(digits_path, [*GOOD[:2], ("author", "  ")])), "'author' is empty")
    assert_not_yet(check(_with_metadata(digits_path, [*GOOD, ("labels", "x")])), "labels appear more than once")
    # Section 6 also shows graph-level metadata: put there, the entries are not the model's, and the feedback
    # says so instead of a bare "missing".
    on_graph = onnx.load(digits_path)
    on_graph.graph.metadata_props.extend(onnx.StringStringEntryProto(key=k, value=v) for k, v in GOOD)
    feedback = check(on_graph)
    assert_not_yet(feedback, "sit in the graph's metadata, not in the model's", "graph-level")
    assert "session.get_modelmeta()" in str(feedback)
    other = _affine()
    other.metadata_props.extend(onnx.StringStringEntryProto(key=k, value=v) for k, v in GOOD)
    assert_not_yet(check(other), "not the digits CNN")


# ------------------------------------------------------------------------------------------------ 04.4
def test_cut_classifier_solution_passes(digits_path: Path) -> None:
    feedback = run_solution(lesson04.cut_classifier)
    assert feedback.passed, str(feedback)


def _cut(src: Path, dst: Path, first_op: str, last_output: str = "logits") -> Path:
    model = onnx.load(src)
    start = next(n for n in model.graph.node if n.op_type == first_op).input[0]
    onnx.utils.extract_model(str(src), str(dst), [start], [last_output])
    return dst


def test_cut_classifier_rejects_wrong_answers(digits_path: Path, tmp_path: Path) -> None:
    check = lesson04.cut_classifier.check
    assert_not_yet(check(digits_path), "still holds the convolution part")
    assert_not_yet(check(_cut(digits_path, tmp_path / "a.onnx", "Flatten")), "flattened features", "rank 4")
    model = onnx.load(digits_path)
    relu_out = [n for n in model.graph.node if n.op_type == "Relu"][-1].output[0]
    stops_early = check(_cut(digits_path, tmp_path / "b.onnx", "Gemm", relu_out))
    assert_not_yet(stops_early, "stops before the logits")
    # Ends at the logits but starts after the first Linear layer: never told it must end at the logits.
    last_gemm_input = [n for n in model.graph.node if n.op_type == "Gemm"][-1].input[0]
    onnx.utils.extract_model(str(digits_path), str(tmp_path / "d.onnx"), [last_gemm_input], ["logits"])
    late = check(tmp_path / "d.onnx")
    assert_not_yet(late, "ends at the logits but starts after the first Linear layer")
    assert "must end" not in str(late) and "stops before" not in str(late)
    good = onnx.load(_cut(digits_path, tmp_path / "c.onnx", "Gemm"))
    assert check(good).passed
    bias = next(t for t in good.graph.initializer if t.name == "classifier.3.bias")
    bias.CopyFrom(numpy_helper.from_array(numpy_helper.to_array(bias) + 1.0, bias.name))
    assert_not_yet(check(good), "differ from PyTorch")


def test_hints_and_solutions_exist() -> None:
    exercises = (lesson04.build_graph, lesson04.bytes_per_op, lesson04.add_metadata, lesson04.cut_classifier)
    assert [e.id for e in exercises] == ["04.1", "04.2", "04.3", "04.4"]
    for exercise in exercises:
        assert len(exercise.hints) >= 2 and exercise.giveaways
        assert ".check(" in exercise.solution_code.strip().splitlines()[-1]
        assert "course_utils.inspect" not in exercise.solution_code  # real APIs only
