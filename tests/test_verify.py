"""course_utils.onnxfile.verify: check_model reports, and compare_outputs explaining every kind of mismatch."""

from __future__ import annotations

import re

import numpy as np
import onnx
import pytest
import torch
from course_test_helpers import build_one_op_model
from onnx import TensorProto, helper

from course_utils.errors import InputMismatchError, ModelFileNotFoundError
from course_utils.onnxfile.verify import (
    DEFAULT_TOLERANCES,
    check_model,
    check_parity,
    compare_outputs,
    default_tolerance,
)

RNG = np.random.default_rng(0)
A = RNG.standard_normal((2, 3, 4, 5)).astype(np.float32)


def _matmul_model(in_features: int = 3, weight_rows: int = 3, weights: np.ndarray | None = None) -> onnx.ModelProto:
    w = np.ones((weight_rows, 4), np.float32) if weights is None else weights
    return build_one_op_model("MatMul", w, ["N", in_features], name="mm")


# ------------------------------------------------------------------------------------------- check_model


def test_check_model_passes_and_reports_shapes():
    report = check_model(_matmul_model())
    assert report.passed and bool(report)
    assert [s.name for s in report.steps] == ["onnx.checker (full_check)", "shape inference (strict)"]
    assert [(t.name, t.dtype, t.shape) for t in report.inputs] == [("x", "float32", ("N", 3))]
    assert [(t.name, t.dtype, t.shape) for t in report.outputs] == [("y", "float32", ("N", 4))]
    text = str(report)
    assert text.splitlines()[0] == f"Check of mm: PASSED (IR version {report.ir_version}; opset ai.onnx 21)"
    assert "y" in text and "[N, 4]" in text
    assert str(check_model(_matmul_model())) == text  # deterministic
    assert "<table" in report._repr_html_() and "PASSED" in report._repr_html_()


def test_check_model_without_full_check_names_the_step():
    report = check_model(_matmul_model(), full_check=False)
    assert report.steps[0].name == "onnx.checker"


def test_check_model_reports_invalid_node_in_one_line():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N"])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N"])
    graph = helper.make_graph([helper.make_node("Add", ["x"], ["y"])], "bad", [x], [y])  # Add needs 2 inputs
    report = check_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert not report.passed
    failed = [s for s in report.steps if not s.passed]
    assert failed and all("\n" not in s.detail for s in failed)
    assert any("input size 1 not in range" in s.detail for s in failed)
    assert "FAILED" in str(report) and "FAIL" in report._repr_html_()


def test_check_model_strict_shape_inference_catches_incompatible_shapes():
    report = check_model(_matmul_model(in_features=5, weight_rows=3))  # (N,5) @ (3,4)
    inference = report.steps[1]
    assert not inference.passed
    assert "Incompatible dimensions for matrix multiplication" in inference.detail
    assert "[ShapeInferenceError]" not in inference.detail


def test_check_model_by_path_with_external_data(tmp_path):
    path = tmp_path / "big.onnx"
    model = _matmul_model(weights=np.ones((3, 4), np.float32))
    onnx.save(
        model,
        path,
        save_as_external_data=True,
        all_tensors_to_one_file=True,
        location="big.onnx.data",
        size_threshold=0,
    )
    assert (tmp_path / "big.onnx.data").exists()
    report = check_model(path)
    assert report.passed, str(report)
    assert report.model_name == "big.onnx"


def test_check_model_missing_file_raises_one_line_error(tmp_path):
    with pytest.raises(ModelFileNotFoundError):
        check_model(tmp_path / "missing.onnx")


# ----------------------------------------------------------------------------------------- tolerances


def test_default_tolerances_by_dtype():
    assert default_tolerance(np.float32) == (1e-4, 1e-5)
    assert default_tolerance("float64") == (1e-7, 1e-9)
    assert default_tolerance(np.float16) == (1e-2, 1e-3)
    assert default_tolerance(np.int64) == (0.0, 0.0)
    assert default_tolerance(np.bool_) == (0.0, 0.0)
    assert set(DEFAULT_TOLERANCES) >= {"float16", "float32", "float64"}


def test_float32_pass_and_fail_at_the_tolerance_boundary():
    rtol, atol = default_tolerance(np.float32)
    expected = np.array([1.0, 100.0], np.float32)
    inside = expected + np.float32(0.5) * (atol + rtol * expected)
    outside = expected + np.float32(3.0) * (atol + rtol * expected)
    good = compare_outputs(expected, inside)
    assert good.passed and good.outputs[0].rtol == rtol and good.outputs[0].tolerance_source == "float32 default"
    bad = compare_outputs(expected, outside)
    assert not bad.passed
    assert "2 of 2 elements (100.0%) outside tolerance" in str(bad)
    assert bad.outputs[0].max_abs == pytest.approx(float(np.max(np.abs(outside - expected))))


def test_given_tolerance_overrides_default_and_is_stated():
    report = compare_outputs(A, A + 1e-3, atol=1e-2)
    assert report.passed
    row = report.outputs[0]
    assert (row.rtol, row.atol, row.tolerance_source) == (1e-4, 1e-2, "given")
    assert "(given)" in str(report)


def test_integers_must_match_exactly():
    assert compare_outputs(np.array([1, 2, 3]), np.array([1, 2, 3])).passed
    report = compare_outputs(np.array([1, 2, 3]), np.array([1, 2, 4]))
    assert not report.passed and "exact" in str(report)


def test_float16_uses_looser_tolerance():
    expected = np.array([1.0, 2.0], np.float16)
    assert compare_outputs(expected, expected + np.float16(0.005)).passed
    assert not compare_outputs(expected.astype(np.float32), expected.astype(np.float32) + 0.005).passed


# ---------------------------------------------------------------------------------------- explanations


def test_missing_and_extra_names_are_listed():
    report = compare_outputs({"logits": A, "probs": A}, {"logits": A, "output": A})
    assert not report.passed
    statuses = {o.name: o.status for o in report.outputs}
    assert statuses == {"logits": "pass", "probs": "missing", "output": "extra"}
    text = str(report)
    assert "probs: in expected but not in actual (actual has: logits, output)" in text
    assert "compare by position" in text  # two names each, none shared beyond one: hint to compare by position


def test_positional_sides_take_names_from_the_dict_side():
    report = compare_outputs([A], {"y": A})
    assert [o.name for o in report.outputs] == ["y"] and report.passed
    report = compare_outputs((A, A), [A, A], names=["a", "b"])
    assert [o.name for o in report.outputs] == ["a", "b"]
    with pytest.raises(ValueError, match="names has 1 entries"):
        compare_outputs([A, A], [A, A], names=["a"])


def test_different_output_counts_are_explained():
    report = compare_outputs([A, A], [A])
    assert not report.passed
    assert "expected has 2 output(s) but actual has 1" in str(report)
    assert {o.status for o in report.outputs} == {"pass", "missing"}


def test_nhwc_vs_nchw_is_recognised():
    report = compare_outputs(A, A.transpose(0, 2, 3, 1))
    assert not report.passed
    text = str(report)
    assert "actual looks like NHWC of an NCHW expected" in text
    assert "transpose(0, 3, 1, 2) has the expected shape and the values match" in text
    wrong = compare_outputs(A, A.transpose(0, 2, 3, 1) + 1)
    assert "but the values still differ" in str(wrong)


def test_nchw_vs_nhwc_and_3d_layouts():
    nhwc = A.transpose(0, 2, 3, 1)
    assert "actual looks like NCHW of an NHWC expected" in str(compare_outputs(nhwc, A))
    seq = A[0]  # (3, 4, 5)
    assert "NWC of an NCW" in str(compare_outputs(seq, seq.transpose(0, 2, 1)))


def test_squeezed_dimension_is_recognised():
    report = compare_outputs(A[:1], A[0])
    assert "differ only by size-1 dimensions: after actual.reshape((1, 3, 4, 5)) the values match" in str(report)
    assert "the values still differ" in str(compare_outputs(A[:1], A[1]))


def test_batch_dimension_difference_points_at_frozen_batch():
    report = compare_outputs(A, A[:1])
    assert "first (batch) dimension differs (2 vs 1)" in str(report)
    assert "frozen at export" in str(report)


def test_same_size_other_shape_suggests_reshape():
    assert "missing on one side" in str(compare_outputs(A.reshape(2, 60), A.reshape(6, 20)))


def test_float64_vs_float32_is_explained_and_compared_at_float32_tolerance():
    # learner error #7: the reference ran in double precision
    report = compare_outputs(A.astype(np.float64) + 1e-6, torch.from_numpy(A))
    assert report.passed
    row = report.outputs[0]
    assert (row.expected_dtype, row.actual_dtype) == ("float64", "float32")
    assert (row.rtol, row.atol) == default_tolerance(np.float32)
    assert "the expected side ran in float64; compared at float32 tolerance" in str(report)
    assert "float64 vs float32" in str(report)


def test_integer_vs_float_outputs_fail_with_explanation():
    report = compare_outputs(np.array([1, 2]), np.array([1.0, 2.0]))
    assert not report.passed
    assert "dtypes differ in kind (int64 vs float64)" in str(report)


def test_nans_at_same_positions_are_equal_elsewhere_fail():
    with_nan = A.copy()
    with_nan[0, 0, 0, 0] = np.nan
    same = compare_outputs(with_nan, with_nan.copy())
    assert same.passed and "1 NaN(s) in both, at the same positions" in str(same)
    report = compare_outputs(A, with_nan)
    assert not report.passed
    assert "NaNs differ: expected has 0, actual has 1 (first mismatch at index (0, 0, 0, 0))" in str(report)
    assert report.outputs[0].max_abs == 0.0  # the finite elements agree; the NaN alone fails it


def test_matching_infinities_are_equal():
    x = np.array([np.inf, -np.inf, 1.0], np.float32)
    assert compare_outputs(x, x.copy()).passed
    assert not compare_outputs(x, -x).passed
    assert not compare_outputs(np.array([np.inf, 1.0]), np.array([-np.inf, 1.0])).passed
    assert not compare_outputs(np.array([np.inf, 1.0]), np.array([1e30, 1.0])).passed


def test_non_numeric_outputs_are_compared_exactly():
    assert compare_outputs(np.array(["a", "b"]), np.array(["a", "b"])).passed
    report = compare_outputs(np.array(["a", "b"]), np.array(["a", "c"]))
    assert not report.passed and "not numeric" in str(report)


def test_empty_inputs_do_not_pass():
    report = compare_outputs({}, {})
    assert not report.passed and "nothing to compare" in str(report)


def test_tensors_from_frameworks_are_converted():
    t = torch.from_numpy(A).requires_grad_(True)

    class FakeTfTensor:
        def numpy(self):
            return A

    assert compare_outputs(t * 1, FakeTfTensor()).passed


def test_report_text_and_html_are_deterministic_and_aligned():
    expected = {"logits": A, "label": np.array([1, 2])}
    actual = {"logits": A + 3e-7, "label": np.array([1, 2])}
    first, second = compare_outputs(expected, actual), compare_outputs(expected, actual)
    assert str(first) == str(second) and first._repr_html_() == second._repr_html_()
    lines = str(first).splitlines()
    header, rows = lines[1], lines[2:4]
    column = header.index("max abs err")
    errors = {row.split()[0]: row[column:].split()[0] for row in rows}
    # A float error is a measurement (marked, masked by nbval); an exact comparison's error is a compared fact.
    assert re.fullmatch(r"≈\d\.\de[+-]\d\d", errors["logits"]), errors  # e.g. ≈3.1e-07
    assert errors["label"] == "0.0e+00", errors
    assert len({line.index("pass") for line in rows}) == 1  # result column aligned
    assert first["logits"].passed and first.max_abs is not None and first.max_abs < 1e-6
    with pytest.raises(KeyError, match="outputs: logits, label"):
        first["probs"]
    html = compare_outputs({"a<b": A}, {"a<b": A})._repr_html_()
    assert "a&lt;b" in html and "<table" in html


# ----------------------------------------------------------------------------------------- check_parity


def test_check_parity_runs_the_model_and_compares():
    model = _matmul_model()
    x = np.arange(6, dtype=np.float32).reshape(2, 3)
    reference = x @ np.ones((3, 4), np.float32)
    assert check_parity(model, reference, x).passed
    report = check_parity(model, reference + 1, x)
    assert not report.passed and report.outputs[0].name == "y"


# ------------------------------------------------------------------------------ review findings (lesson 02)


def test_names_of_the_wrong_length_is_a_course_error_with_the_fix():
    with pytest.raises(InputMismatchError, match=r"names has 2 entries but expected has 1 output.*one name per output"):
        compare_outputs(A, A, names=["a", "b"])


@pytest.mark.parametrize("zipmap_side", ["actual", "expected"])
def test_zipmap_output_points_at_the_zipmap_option(zipmap_side):
    probabilities = np.array([[0.25, 0.75], [0.5, 0.5]], np.float32)
    zipmap = [{0: 0.25, 1: 0.75}, {0: 0.5, 1: 0.5}]  # what ONNX Runtime returns for skl2onnx's ZipMap output
    sides = (probabilities, zipmap) if zipmap_side == "actual" else (zipmap, probabilities)
    report = compare_outputs(*sides)
    text = str(report)
    assert not report.passed
    assert f"the {zipmap_side} side is a list of dicts" in text
    assert "zipmap" in text and "options={id(model): {'zipmap': False}}" in text


def test_check_model_names_string_tensors_string():
    s = helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])
    o = helper.make_tensor_value_info("out", TensorProto.STRING, ["N"])
    graph = helper.make_graph([helper.make_node("Identity", ["text"], ["out"])], "s", [s], [o])
    report = check_model(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)]))
    assert report.inputs[0].dtype == "string" and "string[N]" in str(report)
    assert "object" not in str(report)
