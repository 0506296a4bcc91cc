"""course_utils.runtime: running models, and the one-line errors for inputs, providers and versions."""

from __future__ import annotations

import os

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch
from course_test_helpers import build_one_op_model
from onnx import TensorProto, helper

from course_utils.errors import (
    InputMismatchError,
    ModelFileNotFoundError,
    ProviderUnavailableError,
    UnsupportedOpsetError,
)
from course_utils.runtime import (
    available_providers,
    make_session,
    run_onnx,
    runtime_limits,
    to_numpy,
)
from course_utils.runtime import run as runtime


def _scale_model(factor: float = 2.0, shape: list | None = None, name: str = "x") -> onnx.ModelProto:
    """y = x * factor, for float32 x of the given shape (default: dynamic batch of 3 features)."""
    return build_one_op_model("Mul", np.array(factor), ["N", 3] if shape is None else shape, x_name=name, name="scale")


def _two_input_model() -> onnx.ModelProto:
    a = helper.make_tensor_value_info("a", TensorProto.FLOAT, ["N"])
    b = helper.make_tensor_value_info("b", TensorProto.FLOAT, ["N"])
    s = helper.make_tensor_value_info("sum", TensorProto.FLOAT, ["N"])
    d = helper.make_tensor_value_info("diff", TensorProto.FLOAT, ["N"])
    nodes = [helper.make_node("Add", ["a", "b"], ["sum"]), helper.make_node("Sub", ["a", "b"], ["diff"])]
    graph = helper.make_graph(nodes, "two", [a, b], [s, d])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])


X = np.arange(6, dtype=np.float32).reshape(2, 3)


# ----------------------------------------------------------------------------------------------- running


def test_run_onnx_accepts_dict_single_array_list_and_torch_tensor():
    model = _scale_model(2.0)
    for inputs in ({"x": X}, X, [X], (X,), torch.from_numpy(X)):
        out = run_onnx(model, inputs)
        assert list(out) == ["y"]
        np.testing.assert_array_equal(out["y"], X * 2)


def test_run_onnx_by_path_and_bytes(tmp_path):
    path = tmp_path / "scale.onnx"
    onnx.save(_scale_model(3.0), path)
    np.testing.assert_array_equal(run_onnx(path, X)["y"], X * 3)
    np.testing.assert_array_equal(run_onnx(str(path), X)["y"], X * 3)
    np.testing.assert_array_equal(run_onnx(path.read_bytes(), X)["y"], X * 3)


def test_run_onnx_multiple_inputs_and_output_selection():
    model = _two_input_model()
    a, b = np.array([5.0, 7.0], np.float32), np.array([1.0, 2.0], np.float32)
    out = run_onnx(model, [a, b])
    assert list(out) == ["sum", "diff"]
    np.testing.assert_array_equal(out["diff"], a - b)
    only = run_onnx(model, {"b": b, "a": a}, output_names=["diff"])
    assert list(only) == ["diff"]
    with pytest.raises(InputMismatchError, match=r"Unknown output name 'dif'.*'sum', 'diff'"):
        run_onnx(model, [a, b], output_names=["dif"])


def test_run_onnx_reuses_session_until_the_file_changes(tmp_path):
    runtime.clear_session_cache()
    path = tmp_path / "m.onnx"
    onnx.save(_scale_model(2.0), path)
    run_onnx(path, X)
    first = next(iter(runtime._SESSION_CACHE.values()))
    run_onnx(path, X)
    assert len(runtime._SESSION_CACHE) == 1 and next(iter(runtime._SESSION_CACHE.values())) is first
    # A re-export to the same path must not reuse the stale session.
    onnx.save(_scale_model(5.0), path)  # same size as before
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    np.testing.assert_array_equal(run_onnx(path, X)["y"], X * 5)


def test_run_onnx_accepts_a_session_but_not_providers_with_it():
    session = make_session(_scale_model(2.0))
    np.testing.assert_array_equal(run_onnx(session, X)["y"], X * 2)
    with pytest.raises(TypeError, match="make_session"):
        run_onnx(session, X, providers=["CPUExecutionProvider"])


def test_missing_model_file_is_one_line(tmp_path):
    with pytest.raises(ModelFileNotFoundError, match="No model file"):
        run_onnx(tmp_path / "nope.onnx", X)


# -------------------------------------------------------------------------------------- input mistakes


@pytest.mark.parametrize(
    ("model", "inputs", "pattern"),
    [
        # learner error #8: float64 (numpy's default) fed to a float32 model
        (
            _scale_model(),
            X.astype(np.float64),
            r"'x' expects float32 \(tensor\(float\)\), got float64: cast with x\.astype\(np\.float32\)",
        ),
        (_scale_model(), X.astype(np.int64), r"expects float32 .*got int64"),
        (_scale_model(), X[0], r"expects rank 2 \[N, 3\], got rank 1 \[3\]: add the batch dimension with x\[None\]"),
        (
            _scale_model(),
            X[None],
            r"got rank 3 \[1, 2, 3\]: remove the extra size-1 dimension with np\.squeeze\(x, axis=0\)",
        ),
        (
            _scale_model(),
            np.ones((2, 4), np.float32),
            r"expects shape \[N, 3\], got \[2, 4\] \(dimension 1 must be 3, got 4\)",
        ),
        (_scale_model(shape=[1, 3]), np.ones((4, 3), np.float32), r"batch is fixed to 1.*dynamic_shapes"),
        (
            _scale_model(shape=["N", 1, 8, 8]),
            np.ones((2, 8, 8, 1), np.float32),
            r"NHWC -> NCHW.*\.transpose\(0, 3, 1, 2\)",
        ),
        (_scale_model(), {"X": X}, r"Unknown input name 'X' \(did you mean 'x'\?\).*'x' \(float32\[N, 3\]\)"),
        (_two_input_model(), {"a": X[0]}, r"Missing input 'b'"),
        (_two_input_model(), X[0], r"single array but the model has 2 inputs: 'a'.*'b'"),
        (_two_input_model(), [X[0]], r"Got 1 input arrays but the model has 2"),
        (_scale_model(), [1.0, 2.0, 3.0], r"list of 3 numbers.*np\.asarray\(x, dtype=np\.float32\)"),
    ],
)
def test_input_mismatch_says_what_and_how_to_fix(model, inputs, pattern):
    with pytest.raises(InputMismatchError, match=pattern) as info:
        run_onnx(model, inputs)
    assert "\n" not in str(info.value)


def test_input_name_that_is_not_an_identifier_uses_placeholder_in_fix():
    model = _scale_model(name="input:0")
    with pytest.raises(InputMismatchError, match=r"cast with x\.astype"):
        run_onnx(model, X.astype(np.float64))


def test_string_input_must_hold_strings():
    s = helper.make_tensor_value_info("text", TensorProto.STRING, ["N"])
    o = helper.make_tensor_value_info("out", TensorProto.STRING, ["N"])
    graph = helper.make_graph([helper.make_node("Identity", ["text"], ["out"])], "s", [s], [o])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 21)])
    assert list(run_onnx(model, np.array(["a", "b"], dtype=object))["out"]) == ["a", "b"]
    with pytest.raises(InputMismatchError, match="expects strings"):
        run_onnx(model, np.array([1.0, 2.0], np.float32))


# ------------------------------------------------------------------------------------------- providers


def test_available_providers_include_cpu():
    assert "CPUExecutionProvider" in available_providers()
    assert available_providers() == ort.get_available_providers()


@pytest.mark.skipif("CUDAExecutionProvider" in ort.get_available_providers(), reason="this machine has CUDA")
def test_unavailable_provider_names_available_ones_and_how_to_get_it():
    with pytest.raises(
        ProviderUnavailableError,
        match=r"'CUDAExecutionProvider' is not available.*CPUExecutionProvider.*onnxruntime-gpu",
    ):
        run_onnx(_scale_model(), X, providers=["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_misspelled_provider_gets_a_suggestion():
    with pytest.raises(
        ProviderUnavailableError,
        match=r"'cuda' is not an ONNX Runtime execution provider name\. Did you mean 'CUDAExecutionProvider'",
    ):
        make_session(_scale_model(), providers=["cuda"])


def test_provider_that_falls_back_silently_is_reported(monkeypatch):
    # Pretend CUDA is installed: ONNX Runtime then falls back to CPU with only a warning (learner error #9).
    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine really has CUDA")
    monkeypatch.setattr(
        runtime, "available_providers", lambda: [*ort.get_available_providers(), "CUDAExecutionProvider"]
    )
    with pytest.raises(ProviderUnavailableError, match=r"built into onnxruntime but did not load.*preload_dlls"):
        make_session(_scale_model(), providers=["CUDAExecutionProvider", "CPUExecutionProvider"])


def test_tensorrt_that_does_not_load_points_at_tensorrt(monkeypatch):
    if "TensorrtExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has a TensorRT build")
    monkeypatch.setattr(
        runtime, "available_providers", lambda: [*ort.get_available_providers(), "TensorrtExecutionProvider"]
    )
    with pytest.raises(ProviderUnavailableError, match=r"TensorRT's libraries \(libnvinfer\)"):
        make_session(_scale_model(), providers=["TensorrtExecutionProvider", "CPUExecutionProvider"])


# -------------------------------------------------------------------------------------------- sessions


def test_make_session_options_by_name():
    session = make_session(_scale_model(), graph_optimization_level="ORT_DISABLE_ALL", intra_op_num_threads=1)
    assert session.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    assert session.get_session_options().intra_op_num_threads == 1
    session = make_session(_scale_model(), graph_optimization_level="ORT_ENABLE_BASIC")
    assert session.get_session_options().graph_optimization_level == ort.GraphOptimizationLevel.ORT_ENABLE_BASIC
    for old in ("fast", "disable_all"):  # one spelling: ONNX Runtime's own names
        with pytest.raises(ValueError, match=rf"Unknown graph optimization level '{old}'.*ORT_DISABLE_ALL"):
            make_session(_scale_model(), graph_optimization_level=old)
    with pytest.raises(TypeError, match=r"Unknown session option 'threads'.*intra_op_num_threads"):
        make_session(_scale_model(), threads=2)


# -------------------------------------------------------------------------------------------- versions


def test_ir_version_too_new_is_one_line_with_the_fix():
    model = _scale_model()
    model.ir_version = runtime_limits().max_ir_version + 1
    with pytest.raises(
        UnsupportedOpsetError,
        match=rf"IR version {model.ir_version} but onnxruntime .* up to IR version {model.ir_version - 1}.*upgrade onnxruntime",
    ) as info:
        run_onnx(model, X)
    assert "\n" not in str(info.value)


def test_opset_too_new_is_one_line_with_the_fix():
    model = _scale_model()
    top = runtime_limits().max_opset["ai.onnx"]
    model.opset_import[0].version = top + 1
    with pytest.raises(
        UnsupportedOpsetError, match=rf"opset {top + 1} of 'ai.onnx' .* up to opset {top}: .*opset_version={top}"
    ):
        make_session(model)


def test_missing_kernel_message_is_translated():
    error = RuntimeError(
        "[ONNXRuntimeError] : 9 : NOT_IMPLEMENTED : Could not find an implementation for Foo(99) node with name ''"
    )
    translated = runtime._translate_load_error(error)
    assert isinstance(translated, UnsupportedOpsetError)
    assert "no kernel for Foo version 99" in str(translated)
    assert runtime._translate_load_error(RuntimeError("something else")) is None


# ---------------------------------------------------------------------------------------------- arrays


def test_to_numpy_handles_framework_tensors():
    t = torch.ones(2, requires_grad=True) * 3
    np.testing.assert_array_equal(to_numpy(t), [3.0, 3.0])
    assert to_numpy(torch.ones(2, dtype=torch.bfloat16)).dtype == np.float32

    class FakeTfTensor:  # TensorFlow eager tensors expose .numpy()
        def numpy(self):
            return np.array([1, 2], np.int32)

    assert to_numpy(FakeTfTensor()).dtype == np.int32
    assert to_numpy([1.0, 2.0]).dtype == np.float64


# ------------------------------------------------------------------------------ review findings (lesson 02)


def test_providers_given_as_one_string_are_one_provider():
    session = make_session(_scale_model(), providers="CPUExecutionProvider")
    assert session.get_providers() == ["CPUExecutionProvider"]
    np.testing.assert_array_equal(run_onnx(_scale_model(), X, providers="CPUExecutionProvider")["y"], X * 2)
    # the error names the whole string, not its first letter
    with pytest.raises(ProviderUnavailableError, match=r"'cuda' is not an ONNX Runtime execution provider name"):
        make_session(_scale_model(), providers="cuda")
    # one (name, options) pair is one provider too
    session = make_session(_scale_model(), providers=("CPUExecutionProvider", {}))
    assert session.get_providers() == ["CPUExecutionProvider"]


@pytest.mark.parametrize(
    ("value", "fix"),
    [
        (X.astype(np.float64), "x.astype(np.float32)"),
        (torch.from_numpy(X).double(), "x.float()"),
        (torch.from_numpy(X).long(), "x.float()"),
    ],
    ids=["numpy", "torch-float64", "torch-int64"],
)
def test_dtype_fix_suits_the_kind_of_input(value, fix):
    with pytest.raises(InputMismatchError, match=r"expects float32") as info:
        run_onnx(_scale_model(), value)
    assert fix in str(info.value)
    if isinstance(value, torch.Tensor):
        assert "astype" not in str(info.value)


def test_rank_fixes_for_torch_tensors_use_torch_methods():
    with pytest.raises(InputMismatchError, match=r"x\.unsqueeze\(0\)"):
        run_onnx(_scale_model(), torch.from_numpy(X[0]))
    with pytest.raises(InputMismatchError, match=r"x\.squeeze\(0\)"):
        run_onnx(_scale_model(), torch.from_numpy(X[None]))


@pytest.mark.parametrize("rows", [2, 1], ids=["batch-2", "batch-1"])
def test_nested_python_list_is_explained_as_one_array(rows):
    with pytest.raises(InputMismatchError, match=r"nested Python list") as info:
        run_onnx(_scale_model(), X[:rows].tolist())
    message = str(info.value)
    assert "np.asarray(x, dtype=np.float32)" in message and "input arrays" not in message
    assert "\n" not in message


def test_none_as_input_says_pass_an_array():
    for inputs in (None, {"x": None}, [None]):
        with pytest.raises(InputMismatchError, match=r"Input 'x' got None: pass a numpy array") as info:
            run_onnx(_scale_model(), inputs)
        assert "rank" not in str(info.value)


def test_ir_version_error_has_its_own_class_that_old_catches_still_catch():
    from course_utils.errors import UnsupportedIRVersionError

    model = _scale_model()
    model.ir_version = runtime_limits().max_ir_version + 1
    with pytest.raises(UnsupportedIRVersionError):
        make_session(model)
    assert issubclass(UnsupportedIRVersionError, UnsupportedOpsetError)
    newer_opset = _scale_model()
    newer_opset.opset_import[0].version = runtime_limits().max_opset["ai.onnx"] + 1
    with pytest.raises(UnsupportedOpsetError) as info:
        make_session(newer_opset)
    assert not isinstance(info.value, UnsupportedIRVersionError)
