"""course_utils.versions.opsets (the headless opset explorer) and its widget view."""

from __future__ import annotations

import numpy as np
import onnx
import onnx.inliner
import pytest
import torch
from onnx import TensorProto, helper, numpy_helper

from course_utils.errors import UnsupportedOpsetError
from course_utils.lessons.lesson08 import digits_cnn_at
from course_utils.versions.opsets import (
    conversion_plan,
    convert_at_opset,
    demo_net,
    example_inputs,
    explore,
    export_at_opset,
    model_opset,
    op_signature,
    op_versions,
    schema_diff,
)


@pytest.fixture(scope="module")
def digits18() -> onnx.ModelProto:
    return digits_cnn_at(18)


def _reduce_mean_13() -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3, 4])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 1, 4])
    node = helper.make_node("ReduceMean", ["x"], ["y"], name="mean", axes=[1], keepdims=1)
    graph = helper.make_graph([node], "mean13", [x], [y])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)], ir_version=7)


# ------------------------------------------------------------------------------------------ signatures


def test_op_versions_match_the_schemas():
    assert op_versions("Split")[:5] == [1, 2, 11, 13, 18]
    assert op_versions("ReduceMean")[:4] == [1, 11, 13, 18]
    assert 13 in op_versions("Squeeze") and 11 in op_versions("Clip")
    with pytest.raises(ValueError, match=r"no operator 'Relux' in ai.onnx\. Did you mean 'Relu'\?"):
        op_versions("Relux")


def test_op_signature_is_the_definition_an_opset_uses():
    split = op_signature("Split", 17)
    assert split.since_version == 13 and split.name == "Split-13"
    assert [p.name for p in split.inputs] == ["input", "split"] and split.inputs[1].option == "optional"
    assert split.outputs[0].option == "variadic"
    assert "num_outputs" in {a.name for a in op_signature("Split", 18).attributes}
    mode = next(a for a in op_signature("Resize", 11).attributes if a.name == "mode")
    assert mode.values == ("cubic", "linear", "nearest") and mode.default == "'nearest'"
    assert str(split).splitlines()[0] == "Split-13 (ai.onnx; what opset 17 uses)"
    with pytest.raises(UnsupportedOpsetError, match=r"Gelu does not exist at opset 18 of ai.onnx: .*opset 20"):
        op_signature("Gelu", 18)
    assert op_signature("LinearClassifier", 1, "ai.onnx.ml").domain == "ai.onnx.ml"


# ----------------------------------------------------------------------------------------- schema diffs


@pytest.mark.parametrize(
    "op,old,new,expected",
    [
        ("Split", 11, 13, "attribute 'split' (INTS) became input 'split'"),
        ("Squeeze", 11, 13, "attribute 'axes' (INTS) became input 'axes'"),
        ("ReduceMean", 13, 18, "attribute 'axes' (INTS) became input 'axes'"),
        ("Clip", 6, 11, "attribute 'min' (FLOAT) became input 'min'"),
        ("Resize", 10, 11, "attribute 'mode' values listed in the spec: adds cubic"),
        ("Resize", 13, 18, "attribute added: antialias: INT (default 0)"),
        ("Relu", 13, 14, "types added to T: tensor(int16), tensor(int32), tensor(int64), tensor(int8)"),
        ("ReduceMean", 18, 13, "input 'axes' (axes: tensor(int64), optional) became attribute 'axes' (INTS)"),
    ],
)
def test_schema_diff_names_each_documented_change(op, old, new, expected):
    diff = schema_diff(op, old, new)
    assert not diff.same and any(change.startswith(expected) for change in diff.changes)
    assert str(diff).startswith(f"{op}: opset {old} uses {op}-")


def test_schema_diff_of_one_definition_says_nothing_changes():
    diff = schema_diff("Relu", 14, 18)
    assert diff.same and diff.changes == ()
    assert str(diff).endswith("the same definition, nothing changes")


# ------------------------------------------------------------------------------------------ the plan


def test_plan_lists_every_node_a_downgrade_breaks_with_the_converters_message(digits18):
    plan = conversion_plan(digits18, 13)
    assert (plan.from_opset, plan.to_opset) == (18, 13)
    assert [n.op_type for n in plan.failing] == ["Relu", "Relu", "Relu"]
    assert all(n.detail == "No Adapter From Version $14 for Relu" and n.old == "Relu-14" for n in plan.failing)
    assert {n.op_type for n in plan.nodes if n.status == "same"} == {"Conv", "Flatten", "Gemm", "MaxPool"}
    # The plan agrees with the converter itself: it fails on the first node the plan marks.
    with pytest.raises(RuntimeError, match=r"No Adapter From Version \$14 for Relu"):
        onnx.version_converter.convert_version(digits18, 13)
    assert "3 fails" in str(plan).splitlines()[0]


def test_plan_predicts_changes_that_the_converter_makes():
    plan = conversion_plan(_reduce_mean_13(), 18)
    (mean,) = plan.nodes
    assert mean.status == "changes" and "attribute 'axes' (INTS) became input 'axes'" in mean.detail
    converted = onnx.version_converter.convert_version(_reduce_mean_13(), 18)
    node = next(n for n in converted.graph.node if n.op_type == "ReduceMean")
    assert len(node.input) == 2 and "axes" not in [a.name for a in node.attribute]


def test_plan_marks_an_operator_that_does_not_exist_yet():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Gelu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
    (gelu,) = conversion_plan(model, 18).nodes
    assert gelu.status == "fails" and gelu.new == "-"
    assert gelu.detail.startswith("Gelu does not exist before opset 20")


def test_plan_leaves_other_domains_alone_and_needs_an_ai_onnx_import():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 2])
    node = helper.make_node("Scaler", ["x"], ["y"], domain="ai.onnx.ml", offset=[0.0, 0.0], scale=[1.0, 1.0])
    graph = helper.make_graph([node, helper.make_node("Relu", ["y"], ["z"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18), helper.make_opsetid("ai.onnx.ml", 3)])
    scaler, relu = conversion_plan(model, 13).nodes
    assert scaler.status == "other domain" and relu.status == "fails"
    assert model_opset(model) == 18 and model_opset(model, "ai.onnx.ml") == 3
    ml_only = helper.make_model(graph, opset_imports=[helper.make_opsetid("ai.onnx.ml", 3)])
    with pytest.raises(UnsupportedOpsetError, match=r"imports no ai\.onnx opset"):
        conversion_plan(ml_only, 13)


# ------------------------------------------------------------------------------------------ trials


def test_convert_up_checks_runs_compares_and_keeps_the_ir_version(digits18):
    trial = convert_at_opset(digits18, 21)
    assert trial.passed and trial.error is None
    assert (trial.ir_version_before, trial.ir_version_after) == (8, 8)
    assert trial.model is not None and model_opset(trial.model) == 21
    assert any(line.startswith("Flatten: Flatten-13 -> Flatten-21") for line in trial.op_changes)
    assert "ir_version: 8 -> 8" in str(trial)
    # The stored text names the tolerance, not the measured error (whose digits differ between CPUs).
    assert "run + parity with the original: passed (within rtol" in str(trial) and "max abs err" not in str(trial)


def test_convert_down_that_fails_gives_the_exact_message(digits18):
    trial = convert_at_opset(digits18, 13)
    assert not trial.passed and trial.error == "No Adapter From Version $14 for Relu" and trial.model is None
    assert str(trial).endswith("error: No Adapter From Version $14 for Relu")


def test_convert_with_given_inputs_compares_on_them():
    x = np.arange(24, dtype=np.float32).reshape(2, 3, 4)
    trial = convert_at_opset(_reduce_mean_13(), 18, inputs={"x": x})
    assert trial.passed and trial.parity is not None and trial.parity.max_abs == 0.0


def test_export_at_several_opsets_changes_the_nodes():
    demo, x = demo_net(), torch.randn(1, 4, 4, 4, generator=torch.Generator().manual_seed(0))
    at9 = export_at_opset(demo, x, 9, reference_opset=13)
    assert at9.passed and at9.ir_version_after == 4
    assert any(line.startswith("Upsample: - -> Upsample-9") for line in at9.op_changes)
    assert any("Clip: Clip-13 -> Clip-6" in line and "became attribute 'min'" in line for line in at9.op_changes)
    at18 = export_at_opset(demo, x, 18, reference_opset=13)
    assert any(line.startswith("ReduceMean: ReduceMean-13 -> ReduceMean-18, 2 nodes") for line in at18.op_changes)
    assert {"ReduceMean", "Resize", "Split"} <= set(at18.changed_ops) and "Squeeze" not in at18.changed_ops
    assert "Constant" not in at18.changed_ops  # Constant-13 at both opsets: only the number of nodes changed
    failed = export_at_opset(demo, x, 99)
    assert not failed.passed and failed.error and failed.model is None


def test_example_inputs_are_deterministic_and_typed(digits18):
    a, b = example_inputs(digits18), example_inputs(digits18)
    assert list(a) == ["x"] and a["x"].shape == (1, 1, 8, 8) and a["x"].dtype == np.float32
    np.testing.assert_array_equal(a["x"], b["x"])
    ints = helper.make_model(
        helper.make_graph(
            [helper.make_node("Identity", ["i"], ["o"])],
            "g",
            [helper.make_tensor_value_info("i", TensorProto.INT64, ["n"])],
            [helper.make_tensor_value_info("o", TensorProto.INT64, ["n"])],
            [numpy_helper.from_array(np.zeros(1, np.int64), "unused")],
        )
    )
    assert example_inputs(ints)["i"].dtype == np.int64 and example_inputs(ints)["i"].shape == (1,)


# ------------------------------------------------------------------------------------------ explorer


def test_explore_text_for_operators_models_and_modules(digits18):
    text = explore("ReduceMean", 18, 13).text
    assert "attribute 'axes' (INTS) became input 'axes'" in text and "ReduceMean-18 (ai.onnx" in text
    assert str(explore("ReduceMean", 17, 13)).startswith("ReduceMean: opset 13 uses ReduceMean-13, opset 17 uses")
    failed = explore(digits18, 13, 18)
    assert "No Adapter From Version $14 for Relu" in failed.text and failed.model is None
    converted = explore(digits18, 21, 18)
    assert converted.model is not None and model_opset(converted.model) == 21
    flatten = [n.name for n in converted.model.graph.node if n.op_type == "Flatten"]
    assert converted.changed == tuple(flatten) and len(flatten) == 1  # Flatten-21 is the only new definition
    demo = (demo_net(), torch.randn(1, 4, 4, 4))
    exported = explore(demo, 18, 13)
    assert "ReduceMean-13 -> ReduceMean-18" in exported.text and model_opset(exported.model) == 18
    assert "ReduceMean" in exported.changed and "Relu" not in exported.changed
    assert explore("Gelu", 18, 13).text.startswith("UnsupportedOpsetError: Gelu does not exist at opset 13")
    assert explore("Relux", 18, 13).text.startswith("ValueError: onnx")


def _with_local_function() -> onnx.ModelProto:
    """Relu, then a call of the model-local function my.fn:Twice (x + x) that ONNX Runtime inlines."""
    body = [helper.make_node("Add", ["a", "a"], ["b"])]
    twice = helper.make_function("my.fn", "Twice", ["a"], ["b"], body, [helper.make_opsetid("", 18)])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [helper.make_node("Relu", ["x"], ["r"]), helper.make_node("Twice", ["r"], ["y"], domain="my.fn")]
    graph = helper.make_graph(nodes, "with_function", [x], [y])
    imports = [helper.make_opsetid("", 18), helper.make_opsetid("my.fn", 1)]
    return helper.make_model(graph, opset_imports=imports, functions=[twice], ir_version=8)


@pytest.mark.parametrize("opset", [13, 18, 19])
def test_a_model_with_local_functions_gets_a_message_not_a_crash(opset):
    """convert_version drops model-local functions; the explorer says so instead of raising ORT's error."""
    model = _with_local_function()
    found = explore(model, opset, 18)
    assert found.model is None
    (call,) = [n for n in conversion_plan(model, opset).nodes if n.op_type == "Twice"]
    assert call.status == "fails" and "model-local function" in call.detail
    if opset == 13:  # the converter's own refusal (Relu-14 has no adapter down) comes first
        assert "No Adapter From Version $14 for Relu" in found.text
    else:
        trial = convert_at_opset(model, opset)
        assert not trial.passed and "drops the model's 1 local function(s) (Twice)" in (trial.error or "")
        assert "onnx.inliner.inline_local_functions" in found.text
    # The fix the message names works: inlined, the model converts, runs and matches.
    assert convert_at_opset(onnx.inliner.inline_local_functions(model), 19).passed


def test_widget_view_follows_the_slider_with_deterministic_text():
    from course_utils.views.opsets_view import OpsetExplorer

    explorer = OpsetExplorer(["ReduceMean", "Split"], opset=13, base_opset=13)
    assert explorer.text.endswith("ReduceMean-13 (ai.onnx; what opset 13 uses)" + explorer.text.split("uses)", 1)[1])
    assert "nothing changes" in explorer.text
    explorer.slider.value = 18
    assert "became input 'axes'" in explorer.text and "became input" in explorer.result.value
    explorer.picker.value = "Split"
    assert explorer.text.startswith("Split: opset 13 uses Split-13, opset 18 uses Split-18")
    bundle = explorer._repr_mimebundle_()
    data = bundle[0] if isinstance(bundle, tuple) else bundle
    assert data["text/plain"] == explorer.text and "application/vnd.jupyter.widget-view+json" in data
    assert explorer.picture.value == ""  # an operator has no graph to draw
    with pytest.raises(ValueError, match="at least one"):
        OpsetExplorer([])


def test_widget_view_draws_the_model_at_the_chosen_opset(digits18):
    from course_utils.views.opsets_view import OpsetExplorer

    explorer = OpsetExplorer({"digits": digits18}, opset=21, base_opset=18)
    picture = explorer.picture.value
    assert "<svg" in picture and "Relu" in picture
    # The changed node (Flatten-13 -> Flatten-21) is outlined, and the caption says which one.
    assert "outlined in orange" in picture and picture.count('stroke-width="3"') == 1
    svg = picture[picture.index("<svg") :]
    outlined = svg.split('stroke-width="3"/>', 1)[1].split("</g>", 1)[0]
    assert ">Flatten<" in outlined
    explorer.slider.value = 18  # the file's own opset: nothing to outline
    assert (
        'stroke-width="3"' not in explorer.picture.value
        and "definition changed at this opset" in explorer.picture.value
    )
    explorer.slider.value = 13  # the conversion fails: no picture, the converter's message instead
    assert explorer.picture.value == "" and "No Adapter From Version $14 for Relu" in explorer.text


def test_bad_input_gets_the_one_line_errors(tmp_path):
    from course_utils.errors import ModelFileNotFoundError, NotAnOnnxModelError

    with pytest.raises(ModelFileNotFoundError):
        conversion_plan(tmp_path / "missing.onnx", 13)
    text_file = tmp_path / "notes.onnx"
    text_file.write_text("not a model\n")
    with pytest.raises(NotAnOnnxModelError):
        convert_at_opset(text_file, 13)
    shown = explore(str(tmp_path / "missing.onnx"), 13, 18).text
    assert shown.startswith("ModelFileNotFoundError: ") and "\n" not in shown
