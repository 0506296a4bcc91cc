"""Lesson 09's custom operator, three ways: the same soft cap gives identical numbers in PyTorch eager, ONNX Runtime
with the onnxruntime-extensions library, and onnx's reference evaluator; without registration ONNX Runtime's own
error text is the one the lesson shows. And the compatibility checker knows a model-local function needs nothing."""

from __future__ import annotations

import warnings

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

torch = pytest.importorskip("torch")
ort = pytest.importorskip("onnxruntime")
extensions = pytest.importorskip("onnxruntime_extensions")

CAP = 3.0


@pytest.fixture(scope="module")
def soft_cap_kernel():
    """The Python kernel the lesson writes, registered with onnxruntime-extensions under ai.onnx.contrib."""

    @extensions.onnx_op(
        op_type="SoftCap",
        inputs=[extensions.PyOp.dt_float],
        outputs=[extensions.PyOp.dt_float],
        attrs={"cap": extensions.PyOp.dt_float},
    )
    def soft_cap(x, **attrs):
        return (attrs["cap"] * np.tanh(x / attrs["cap"])).astype(np.float32)

    return soft_cap


def _reference_op():
    from onnx.reference.op_run import OpRun

    class SoftCap(OpRun):
        op_domain = "ai.onnx.contrib"

        def _run(self, x, cap=None):
            return ((cap * np.tanh(x / cap)).astype(x.dtype),)

    return SoftCap


class _Capped(torch.nn.Module):
    def forward(self, x):
        if torch.onnx.is_in_onnx_export():
            return torch.onnx.ops.symbolic(
                "ai.onnx.contrib::SoftCap", (x,), {"cap": CAP}, dtype=x.dtype, shape=x.shape, version=1
            )
        return CAP * torch.tanh(x / CAP)


@pytest.fixture(scope="module")
def kept(tmp_path_factory) -> onnx.ModelProto:
    path = tmp_path_factory.mktemp("custom") / "capped.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Capped(), (torch.randn(2, 5),), path, input_names=["x"], dynamic_shapes={"x": {1: torch.export.Dim("n")}}
        )
    return onnx.load(path)


def test_the_export_keeps_one_custom_domain_node(kept):
    assert [(n.domain, n.op_type) for n in kept.graph.node] == [("ai.onnx.contrib", "SoftCap")]
    assert ("ai.onnx.contrib", 1) in {(o.domain, o.version) for o in kept.opset_import}


def test_eager_extensions_and_reference_agree(kept, soft_cap_kernel):
    from onnx.reference import ReferenceEvaluator

    x = np.linspace(-9, 9, 2 * 11, dtype=np.float32).reshape(2, 11)  # a length the export never saw
    with torch.no_grad():
        eager = _Capped()(torch.from_numpy(x)).numpy()
    options = ort.SessionOptions()
    options.register_custom_ops_library(extensions.get_library_path())
    by_kernel = ort.InferenceSession(kept.SerializeToString(), options, providers=["CPUExecutionProvider"]).run(
        None, {"x": x}
    )[0]
    by_reference = ReferenceEvaluator(kept, new_ops=[_reference_op()]).run(None, {"x": x})[0]
    np.testing.assert_allclose(by_kernel, eager, rtol=1e-6, atol=1e-6)
    np.testing.assert_allclose(by_reference, eager, rtol=1e-6, atol=1e-6)
    assert np.abs(eager).max() < CAP  # the cap holds


def test_without_registration_onnxruntime_names_the_operator(kept):
    options = ort.SessionOptions()
    options.log_severity_level = 4
    with pytest.raises(Exception, match=r"ai\.onnx\.contrib:SoftCap\(-1\) is not a registered function/op"):
        ort.InferenceSession(kept.SerializeToString(), options, providers=["CPUExecutionProvider"])


def test_reference_evaluator_without_the_op_says_unknown(kept):
    from onnx.reference import ReferenceEvaluator

    with pytest.raises(NotImplementedError, match=r"Node type 'SoftCap' from domain 'ai\.onnx\.contrib' is unknown"):
        ReferenceEvaluator(kept)


def test_the_exporter_names_an_op_without_translation():
    @torch.library.custom_op("course_test::double_it", mutates_args=())
    def double_it(x: torch.Tensor) -> torch.Tensor:
        return 2 * x

    @double_it.register_fake
    def _(x):
        return torch.empty_like(x)

    class Doubler(torch.nn.Module):
        def forward(self, x):
            return double_it(x)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with pytest.raises(Exception, match="No ONNX function found for"):
            torch.onnx.export(Doubler(), (torch.ones(2),), None)


def test_compatibility_checker_and_model_local_functions():
    from course_utils.compat import check_compatibility

    node = helper.make_node("SoftCap", ["x"], ["y"], domain="com.course")
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["n"])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["n"])],
    )
    opsets = [helper.make_opsetid("", 20), helper.make_opsetid("com.course", 1)]
    without = helper.make_model(graph, opset_imports=opsets, ir_version=10)
    (reason,) = check_compatibility(without).reasons
    assert "custom domain 'com.course' (operators: SoftCap)" in reason.what
    function = helper.make_function(
        "com.course",
        "SoftCap",
        ["x"],
        ["y"],
        [helper.make_node("Tanh", ["x"], ["y"])],
        opset_imports=[helper.make_opsetid("", 20)],
    )
    with_function = helper.make_model(graph, opset_imports=opsets, ir_version=10, functions=[function])
    assert check_compatibility(with_function).compatible
