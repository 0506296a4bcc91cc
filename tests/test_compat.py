"""course_utils.compat: the compatibility checker, as a function and as `python -m course_utils.compat`."""

from __future__ import annotations

import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from course_utils.compat import check_compatibility
from course_utils.errors import ModelFileNotFoundError, NotAnOnnxModelError
from course_utils.lessons.lesson08 import digits_cnn_at
from course_utils.versions import ORT_COMPATIBILITY, runtime_limits

BACKEND_DATA = Path(onnx.__file__).parent / "backend" / "test" / "data"


def _relu_model(opset: int = 18, ir_version: int = 8, domain_ops: tuple[tuple[str, str], ...] = ()) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    nodes = [helper.make_node("Relu", ["x"], ["y"])]
    imports = [helper.make_opsetid("", opset)]
    for domain, op in domain_ops:
        nodes.append(helper.make_node(op, ["y"], [f"{op}_out"], domain=domain))
        imports.append(helper.make_opsetid(domain, 1))
    graph = helper.make_graph(nodes, "g", [x], [y])
    return helper.make_model(graph, opset_imports=imports, ir_version=ir_version)


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("compat")
    paths = {"d18": folder / "d18.onnx", "d20": folder / "d20.onnx", "text": folder / "notes.onnx"}
    paths["contrib"] = folder / "contrib.onnx"
    onnx.save(_relu_model(opset=13, ir_version=7, domain_ops=(("com.microsoft", "Gelu"),)), paths["contrib"])
    onnx.save(digits_cnn_at(18), paths["d18"])
    onnx.save(digits_cnn_at(20), paths["d20"])
    paths["text"].write_text("not a model\n")
    return paths


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "course_utils.compat", *args], capture_output=True, text=True, timeout=120
    )


# ----------------------------------------------------------------------------------------------- verdicts


def test_a_model_within_the_limits_is_compatible_with_both_targets(files):
    report = check_compatibility(files["d18"])
    assert report.compatible and report.reasons == () and str(report) == "compatible"
    old = check_compatibility(files["d18"], "1.14")
    assert old.compatible and old.target is ORT_COMPATIBILITY["1.14"]
    assert str(old).splitlines()[0] == "compatible"


def test_too_new_for_an_old_release_names_both_numbers_and_the_fix(files):
    report = check_compatibility(files["d20"], "1.14")
    lines = str(report).splitlines()
    assert lines[0] == "incompatible" and not report
    assert lines[1].startswith("- IR version 9 > 8, the newest onnxruntime 1.14")
    assert lines[2].startswith("- ai.onnx opset 20 > 18") and "opset_version=18" in lines[2]
    assert all(": " in line for line in lines[1:])  # each reason carries its fix


def test_ir_only_metadata_gets_lower_ir_version_as_the_fix():
    model = _relu_model(opset=18, ir_version=10)
    helper.set_metadata_props(model.graph.node[0], {"pkg.torch.onnx.stack_trace": "model.py"})
    (reason,) = check_compatibility(model, "1.17").reasons
    assert reason.what.startswith("IR version 10 > 9") and "lower_ir_version(model, 9)" in reason.fix


def test_operators_newer_than_the_release_are_listed():
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Gelu", ["x"], ["y"])], "g", [x], [y])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=9)
    whats = [r.what for r in check_compatibility(model, "1.16").reasons]
    assert any(w.startswith("ai.onnx opset 20 > 19") for w in whats)
    assert any("Gelu-20 (defined in opset 20, newer than the runtime's ai.onnx 19)" in w for w in whats)


def test_ml_opset_custom_domains_and_com_microsoft():
    ml = _relu_model(domain_ops=(("ai.onnx.ml", "Normalizer"),))
    ml.opset_import[1].version = 5
    assert any(r.what.startswith("ai.onnx.ml opset 5 > 3") for r in check_compatibility(ml, "1.14").reasons)
    custom = _relu_model(domain_ops=(("my.company", "Fancy"),))
    (reason,) = check_compatibility(custom, "1.14").reasons
    assert "custom domain 'my.company' (operators: Fancy)" in reason.what and "register" in reason.fix
    unused = _relu_model()
    unused.opset_import.append(helper.make_opsetid("org.pytorch.aten", 1))  # imported, used by no node
    assert check_compatibility(unused, "1.14").compatible
    fused = _relu_model(domain_ops=(("com.microsoft", "Gelu"),))
    report = check_compatibility(fused)
    assert report.compatible and any("runs only on ONNX Runtime" in n for n in report.notes)
    unknown = _relu_model(domain_ops=(("com.microsoft", "NoSuchKernel"),))
    assert any("com.microsoft:NoSuchKernel" in r.what for r in check_compatibility(unknown).reasons)


def test_a_model_local_function_in_a_custom_domain_is_no_custom_operator():
    """ONNX Runtime inlines a model-local function: compatible, and its body's operators are what is checked."""
    body = [helper.make_node("Add", ["a", "a"], ["b"])]
    twice = helper.make_function("my.fn", "Twice", ["a"], ["b"], body, [helper.make_opsetid("", 18)])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])
    graph = helper.make_graph([helper.make_node("Twice", ["x"], ["y"], domain="my.fn")], "g", [x], [y])
    imports = [helper.make_opsetid("", 18), helper.make_opsetid("my.fn", 1)]
    model = helper.make_model(graph, opset_imports=imports, functions=[twice], ir_version=8)
    assert check_compatibility(model).verdict == "compatible"  # the installed runtime, with a session
    assert check_compatibility(model, "1.14").compatible
    # The body is checked: a body operator newer than the target makes it incompatible.
    twice.node[0].CopyFrom(helper.make_node("Gelu", ["a"], ["b"]))
    twice.opset_import[0].version = 20
    newer = helper.make_model(graph, opset_imports=imports, functions=[twice], ir_version=9)
    report = check_compatibility(newer, "1.16")
    assert report.verdict == "incompatible" and any("Gelu-20" in r.what for r in report.reasons)
    # A node of that domain that is no local function is still a custom operator.
    other = helper.make_model(graph, opset_imports=imports, ir_version=8)
    assert any("custom domain 'my.fn'" in r.what for r in check_compatibility(other, "1.14").reasons)


def test_contrib_operators_against_a_tabled_release_cannot_be_verified():
    fused = _relu_model(opset=13, ir_version=7, domain_ops=(("com.microsoft", "Gelu"),))
    report = check_compatibility(fused, "1.10")
    assert report.verdict == "cannot verify" and not report.compatible and not report and report.exit_code == 3
    assert report.reasons == () and len(report.unverified) == 1
    assert "com.microsoft operators Gelu" in report.unverified[0].what
    assert "onnxruntime==1.10" in report.unverified[0].fix
    assert str(report).splitlines()[:2] == ["cannot verify", f"? cannot verify {report.unverified[0]}"]
    assert check_compatibility(fused).verdict == "compatible"  # the installed one has the kernel: measured
    # A certain reason wins over what could not be verified.
    old = check_compatibility(fused, "1.5")
    assert old.verdict == "incompatible" and old.unverified and old.exit_code == 1


def _upsample(opset: int) -> onnx.ModelProto:
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 1, 4, 4])
    scales = numpy_helper.from_array(np.array([1, 1, 2, 2], np.float32), "scales")
    node = helper.make_node("Upsample", ["x", "scales"], ["y"], mode="nearest")
    graph = helper.make_graph([node], "g", [x], [y], [scales])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)], ir_version=8)


@pytest.mark.parametrize("target", [None, "1.14", "1.3"])
def test_a_deprecated_operator_is_flagged_for_every_release(target):
    report = check_compatibility(_upsample(17), target)
    assert report.verdict == "incompatible"
    (deprecated,) = [r for r in report.reasons if r.what.startswith("deprecated operators")]
    assert "Upsample (since ai.onnx opset 10)" in deprecated.what and "Resize" in deprecated.fix
    # Upsample-9 is not deprecated: no such reason there.
    assert not any(r.what.startswith("deprecated") for r in check_compatibility(_upsample(9), target).reasons)


def test_a_model_the_checker_rejects_cannot_be_verified_from_the_table():
    model = _relu_model()
    model.graph.output[0].type.tensor_type.ClearField("shape")  # the checker wants a shape; ONNX Runtime does not
    report = check_compatibility(model, "1.14")
    assert report.verdict == "cannot verify" and "onnx.checker.check_model rejects" in report.unverified[0].what
    assert check_compatibility(model, try_load=False).verdict == "cannot verify"
    # The installed runtime settles it by loading the model: compatible, with the checker's complaint as a note.
    loaded = check_compatibility(model)
    assert loaded.verdict == "compatible" and any("yet onnxruntime" in n for n in loaded.notes)


def test_installed_release_uses_its_measured_limits_and_its_kernels():
    limits = runtime_limits()
    at_limit = _relu_model(opset=limits.max_opset["ai.onnx"], ir_version=limits.max_ir_version)
    assert check_compatibility(at_limit).compatible
    beyond = _relu_model(opset=limits.max_opset["ai.onnx"] + 1, ir_version=limits.max_ir_version + 1)
    whats = [r.what for r in check_compatibility(beyond).reasons]
    assert whats[0].startswith(f"IR version {limits.max_ir_version + 1} > {limits.max_ir_version}")
    assert "(installed, measured)" in whats[0]
    old = _relu_model(opset=5, ir_version=3)  # Relu-1: ONNX Runtime keeps no kernel that old
    report = check_compatibility(old)
    assert not report and any("Relu-1 (this build has no CPU kernel" in r.what for r in report.reasons)
    assert any("opset 5 < 7" in n for n in report.notes)
    assert not check_compatibility(old, "1.14").compatible  # the table promises opset 7 and newer only


def test_a_constant_node_needs_no_kernel():
    # ONNX Runtime turns Constant nodes into initializers while it builds the graph: no kernel is registered for
    # any version of Constant, and a model with one (every legacy torch export with a reshape) loads.
    value = helper.make_tensor("c", TensorProto.FLOAT, [1], [1.0])
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])
    nodes = [helper.make_node("Constant", [], ["c"], value=value), helper.make_node("Add", ["x", "c"], ["y"])]
    for opset, ir_version in ((13, 7), (20, 9)):
        model = helper.make_model(
            helper.make_graph(nodes, "g", [x], [y]),
            opset_imports=[helper.make_opsetid("", opset)],
            ir_version=ir_version,
        )
        assert check_compatibility(model).compatible, check_compatibility(model)


def test_a_session_refusal_is_a_reason():
    # Valid for onnx and every static check, but ONNX Runtime cannot build it (a Reshape to an impossible shape
    # is only found at run time, so use a type ORT has no Relu kernel for instead).
    x = helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [2])
    y = helper.make_tensor_value_info("y", TensorProto.BFLOAT16, [2])
    model = helper.make_model(
        helper.make_graph([helper.make_node("Relu", ["x"], ["y"])], "g", [x], [y]),
        opset_imports=[helper.make_opsetid("", 18)],
        ir_version=8,
    )
    report = check_compatibility(model)
    assert not report and report.reasons[0].what.startswith("onnxruntime")
    assert "refused to load it" in report.reasons[0].what
    assert check_compatibility(model, try_load=False).compatible  # the static checks alone do not see it


def test_external_data_missing(tmp_path):
    weights = numpy_helper.from_array(np.ones((64, 64), np.float32), "w")
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 64])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 64])
    model = helper.make_model(
        helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "g", [x], [y], [weights]),
        opset_imports=[helper.make_opsetid("", 18)],
        ir_version=8,
    )
    path = tmp_path / "big.onnx"
    onnx.save(
        model, path, save_as_external_data=True, all_tensors_to_one_file=True, location="big.data", size_threshold=0
    )
    assert check_compatibility(path).compatible
    (tmp_path / "big.data").unlink()
    (reason,) = check_compatibility(path).reasons
    assert reason.what == "external data file(s) missing beside the model: big.data"


def test_bad_input_raises_the_one_line_errors(files, tmp_path):
    with pytest.raises(ModelFileNotFoundError):
        check_compatibility(tmp_path / "missing.onnx")
    with pytest.raises(NotAnOnnxModelError):
        check_compatibility(files["text"])
    with pytest.raises(ValueError, match="not in the published compatibility table"):
        check_compatibility(files["d18"], "1.99")


# -------------------------------------------------------------------------------------------------- CLI


def test_cli_exit_codes_and_first_line(files):
    ok = _cli(str(files["d18"]), "--onnxruntime", "1.14")
    assert ok.returncode == 0 and ok.stdout.splitlines()[0] == "compatible"
    bad = _cli(str(files["d20"]), "--onnxruntime", "1.14.1")
    assert bad.returncode == 1 and bad.stdout.splitlines()[0] == "incompatible"
    assert len(bad.stdout.splitlines()) >= 3 and bad.stderr == ""
    unsure = _cli(str(files["contrib"]), "--onnxruntime", "1.10")
    assert unsure.returncode == 3 and unsure.stdout.splitlines()[0] == "cannot verify" and unsure.stderr == ""
    for args in ([str(files["text"])], [str(files["d18"]), "--onnxruntime", "1.99"], ["nowhere.onnx"]):
        error = _cli(*args)
        assert error.returncode == 2 and error.stdout == ""
        assert error.stderr.startswith("error: ") and len(error.stderr.strip().splitlines()) == 1


# -------------------------------------------------------------------------------- models we did not write


def test_every_onnx_backend_test_model_gets_a_verdict():
    files = sorted(BACKEND_DATA.glob("**/*.onnx"))
    assert len(files) >= 100
    crashes, verdicts = [], {"compatible": 0, "incompatible": 0, "cannot verify": 0}
    for path in files:
        for target in (None, "1.14"):
            try:
                report = check_compatibility(path, target)
                verdicts[str(report).splitlines()[0]] += 1
            except Exception as e:
                crashes.append(f"{path.relative_to(BACKEND_DATA)} ({target}): {type(e).__name__}: {e}")
    assert not crashes, f"{len(crashes)} crashed:\n" + "\n".join(crashes[:20])
    assert verdicts["compatible"] > 50 and verdicts["incompatible"] > 50  # both verdicts occur


def test_every_onnx_generated_test_case_gets_a_verdict():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from onnx.backend.test.case.model import collect_testcases as model_cases
        from onnx.backend.test.case.node import collect_testcases as node_cases

        cases = [c for c in [*node_cases(), *model_cases()] if c.model is not None]
    assert len(cases) > 1000
    crashes = []
    for case in cases:
        try:
            for target in (None, "1.17"):
                lines = str(check_compatibility(case.model, target, try_load=False)).splitlines()
                assert lines[0] in ("compatible", "incompatible", "cannot verify")
        except Exception as e:
            crashes.append(f"{case.name}: {type(e).__name__}: {e}")
    assert not crashes, f"{len(crashes)} of {len(cases)} crashed:\n" + "\n".join(crashes[:20])
