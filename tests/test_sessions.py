"""One session vocabulary: ONNX Runtime's level names, one options builder, one place that creates sessions,
one example-feed rule."""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper

import course_utils
from course_utils.runtime.feeds import example_feed
from course_utils.runtime.sessions import LEVELS, SPINNING, create_session, session_options

PACKAGE = Path(course_utils.__file__).parent


def test_levels_are_onnx_runtimes_own_names() -> None:
    assert LEVELS == (
        "ORT_DISABLE_ALL",
        "ORT_ENABLE_BASIC",
        "ORT_ENABLE_EXTENDED",
        "ORT_ENABLE_LAYOUT",
        "ORT_ENABLE_ALL",
    )
    for name in LEVELS:
        assert session_options(name).graph_optimization_level == getattr(ort.GraphOptimizationLevel, name)
    for old in ("basic", "enable_basic", "all", "ORT_ENABLE_FAST"):
        with pytest.raises(ValueError, match="ORT_ENABLE_BASIC"):
            session_options(old)


def test_session_options_set_what_they_say(tmp_path: Path) -> None:
    options = session_options(
        "ORT_ENABLE_BASIC", 2, spinning=False, profiling=tmp_path / "p", config={"a.b": "1"}, log_severity=3
    )
    assert options.intra_op_num_threads == 2 and options.log_severity_level == 3
    assert options.get_session_config_entry(SPINNING) == "0" and options.get_session_config_entry("a.b") == "1"
    assert options.enable_profiling and options.profile_file_prefix == str(tmp_path / "p")
    with pytest.raises(TypeError, match="intra_op_num_threads"):
        session_options(intra_op_threads=1)
    with pytest.raises(ValueError, match="thread"):
        session_options(threads=-1)


def _constructs_inference_session(source: str) -> bool:
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name == "InferenceSession":
                return True
    return False


def test_the_check_finds_a_session_constructed_in_any_form() -> None:
    assert _constructs_inference_session("import onnxruntime as ort\nort.InferenceSession('m.onnx')")
    assert _constructs_inference_session("from onnxruntime import InferenceSession\nInferenceSession(b'')")
    assert not _constructs_inference_session("x = 'ort.InferenceSession(path)'  # text only")


def test_one_library_module_creates_sessions() -> None:
    # Lessons are excluded: their solutions and checks show learners the real API (ort.InferenceSession).
    creating = sorted(
        path.relative_to(PACKAGE).as_posix()
        for path in PACKAGE.rglob("*.py")
        if "lessons" not in path.relative_to(PACKAGE).parts
        and _constructs_inference_session(path.read_text(encoding="utf-8"))
    )
    assert creating == ["runtime/sessions.py"], "create sessions with course_utils.runtime.sessions.create_session"


def _model(dims: list[int | str], elem: int = TensorProto.FLOAT) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", elem, dims)
    y = helper.make_tensor_value_info("y", elem, dims)
    graph = helper.make_graph([helper.make_node("Identity", ["x"], ["y"])], "g", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], ir_version=8)


def test_example_feed_has_one_rule_for_symbolic_dimensions() -> None:
    model = _model(["N", 3, "H", "W"])
    feed = example_feed(model, batch=4)
    assert feed["x"].shape == (4, 3, 1, 1) and feed["x"].dtype == np.float32
    # the same rule from a session's declared inputs, and the same seeded values
    session = create_session(model.SerializeToString())
    np.testing.assert_array_equal(example_feed(session, batch=4)["x"], feed["x"])
    assert not np.array_equal(example_feed(model, batch=4, seed=1)["x"], feed["x"])
    assert example_feed(_model([2, 5], TensorProto.INT64))["x"].dtype == np.int64
    assert example_feed(_model([2], TensorProto.BOOL))["x"].all()
    with pytest.raises(ValueError, match="batch"):
        example_feed(model, batch=0)
