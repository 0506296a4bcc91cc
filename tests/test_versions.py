"""course_utils.versions: IR-version features and lowering, runtime limits (measured and published)."""

from __future__ import annotations

import itertools

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from course_test_helpers import build_one_op_model
from onnx import TensorProto, helper

from course_utils.errors import UnsupportedIRVersionError, UnsupportedOpsetError
from course_utils.onnxfile import verify
from course_utils.onnxfile.verify import check_model, compare_outputs
from course_utils.runtime import run as runtime
from course_utils.runtime import run_onnx
from course_utils.versions import (
    ORT_COMPATIBILITY,
    ir_version_issues,
    limits_for,
    lower_ir_version,
    runtime_limits,
)

X = np.arange(6, dtype=np.float32).reshape(2, 3)


def test_old_import_paths_are_the_same_objects():
    # Lessons 01/02 import these from runtime/verify; one home, re-exported there.
    assert runtime.runtime_limits is runtime_limits and verify.ir_version_issues is ir_version_issues
    assert verify.lower_ir_version is lower_ir_version and runtime.RuntimeLimits is type(runtime_limits())


def _ir10_model() -> onnx.ModelProto:
    """A model at opset 18 (first shipped with IR 8) stamped IR 10, with IR-10-only metadata_props everywhere
    the torch exporter puts them, including inside an If node's subgraphs."""
    model = build_one_op_model()
    model.opset_import[0].version = 18
    model.ir_version = 10
    graph = model.graph
    helper.set_metadata_props(graph.node[0], {"pkg.torch.onnx.stack_trace": "model.py, line 3"})
    helper.set_metadata_props(graph.input[0], {"pkg.torch.onnx.original_node_name": "x"})
    helper.set_metadata_props(graph, {"pkg.torch.export.ExportedProgram.graph_signature": "..."})
    y = helper.make_tensor_value_info("y2", TensorProto.FLOAT, ["N", 4])
    branch = helper.make_graph([helper.make_node("Identity", ["y"], ["y2"])], "branch", [], [y])
    helper.set_metadata_props(branch.node[0], {"namespace": "branch"})
    flag = onnx.numpy_helper.from_array(np.array(True), "flag")
    graph.initializer.append(flag)
    graph.node.append(helper.make_node("If", ["flag"], ["z"], then_branch=branch, else_branch=branch))
    graph.output.append(helper.make_tensor_value_info("z", TensorProto.FLOAT, ["N", 4]))
    return model


def test_ir_version_issues_lists_what_a_reader_of_that_version_does_not_know():
    model = _ir10_model()
    assert check_model(model).passed  # the checker does not look at this
    issues = ir_version_issues(model, 9)
    assert len(issues) == 1 and "metadata_props (IR 10)" in issues[0]
    assert issues[0] == "metadata_props (IR 10) on 3 nodes, 1 value and 1 graph"  # the If has two subgraphs
    assert ir_version_issues(model) == []  # measured against its own IR 10: nothing newer
    assert any("opset 18 of ai.onnx" in i and "IR 8" in i for i in ir_version_issues(model, 7))


def test_ir_version_issues_finds_newer_element_types_and_opset_pairing():
    model = build_one_op_model()  # opset 21, first shipped with IR 10
    model.graph.initializer.append(helper.make_tensor("q", TensorProto.INT4, [2], [1, -1]))
    model.ir_version = 9
    issues = ir_version_issues(model)
    assert any("int4" in i and "'q'" in i and "IR 10" in i for i in issues)
    assert any("opset 21 of ai.onnx" in i and "find_min_ir_version_for" in i for i in issues)


def test_lower_ir_version_strips_only_metadata_and_keeps_the_numbers():
    model = _ir10_model()
    lowered = lower_ir_version(model, 9)
    assert lowered.ir_version == 9 and model.ir_version == 10  # a copy: the original is untouched
    assert ir_version_issues(lowered) == [] and check_model(lowered).passed
    assert not lowered.graph.node[0].metadata_props and not lowered.graph.node[1].attribute[0].g.node[0].metadata_props
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert compare_outputs(run_onnx(model, x), run_onnx(lowered, x)).passed


def test_lower_ir_version_refuses_what_it_cannot_drop():
    model = build_one_op_model()
    model.opset_import[0].version = 18
    model.graph.initializer.append(helper.make_tensor("q", TensorProto.INT4, [2], [1, -1]))
    with pytest.raises(UnsupportedIRVersionError, match=r"cannot lower the model to IR 9: .*int4.*Re-export") as info:
        lower_ir_version(model, 9)
    assert isinstance(info.value, UnsupportedOpsetError) and "\n" not in str(info.value)
    with pytest.raises(UnsupportedIRVersionError, match=r"opset 18 of ai.onnx"):
        lower_ir_version(_ir10_model(), 7)


def test_runtime_limits_are_the_real_boundary():
    limits = runtime_limits()
    assert limits.onnxruntime_version == ort.__version__
    assert "ai.onnx" in limits.max_opset and "ai.onnx.ml" in limits.max_opset
    at_limit = build_one_op_model()
    at_limit.ir_version = limits.max_ir_version
    at_limit.opset_import[0].version = limits.max_opset["ai.onnx"]
    np.testing.assert_array_equal(run_onnx(at_limit, X)["y"], X @ np.ones((3, 4), np.float32))
    assert str(limits).startswith(f"onnxruntime {ort.__version__}: IR version <= {limits.max_ir_version}")


def test_published_table_has_the_documented_rows():
    assert ORT_COMPATIBILITY["1.14"].max_opset == {"ai.onnx": 18, "ai.onnx.ml": 3}
    assert ORT_COMPATIBILITY["1.14"].max_ir_version == 8
    assert (ORT_COMPATIBILITY["1.16"].max_ir_version, ORT_COMPATIBILITY["1.17"].max_opset["ai.onnx"]) == (9, 20)
    assert ORT_COMPATIBILITY["1.20"].max_ir_version == 10 and ORT_COMPATIBILITY["1.20"].source == "published table"
    # Newer releases never read less than older ones.
    rows = list(ORT_COMPATIBILITY.values())
    for older, newer in itertools.pairwise(rows):
        assert newer.max_ir_version >= older.max_ir_version
        assert newer.max_opset["ai.onnx"] >= older.max_opset["ai.onnx"]


def test_limits_for_reads_patch_releases_as_their_minor_and_measures_the_installed_one():
    assert limits_for("1.14.1") is ORT_COMPATIBILITY["1.14"]
    assert limits_for() is runtime_limits() and limits_for(ort.__version__).source == "measured"
    with pytest.raises(ValueError, match=r"onnxruntime 1\.99 is not in the published compatibility table"):
        limits_for("1.99")
    with pytest.raises(ValueError, match=r"'latest' is not an onnxruntime release number.*'1\.14'"):
        limits_for("latest")


def test_installed_runtime_reads_at_least_what_the_newest_published_release_reads():
    newest = list(ORT_COMPATIBILITY.values())[-1]
    limits = runtime_limits()
    assert limits.max_ir_version >= newest.max_ir_version
    assert all(limits.max_opset[d] >= v for d, v in newest.max_opset.items())
