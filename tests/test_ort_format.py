"""course_utils.deploy.ort_format: the real converter on a small model, both styles; the .ort files load and give
the .onnx file's outputs; files that are not ORT format and converter failures are one-line course errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from course_utils.deploy.ort_format import ORT_MAGIC, convert_to_ort, read_ort_file
from course_utils.errors import ModelFileNotFoundError, NotAnOnnxModelError, OrtConversionError


def _conv_relu_gemm(path: Path) -> Path:
    """x float32[batch, 1, 4, 4] -> Conv -> Relu -> Flatten -> Gemm -> y [batch, 3]. ORT's Fixed style fuses
    Conv+Relu (FusedConv); its Runtime style saves that fusion as a record (Conv+activation is one it records)."""
    rng = np.random.default_rng(10)
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "k"], ["c"]),
            helper.make_node("Relu", ["c"], ["r"]),
            helper.make_node("Flatten", ["r"], ["f"]),
            helper.make_node("Gemm", ["f", "w", "b"], ["y"]),
        ],
        "conv_relu_gemm",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 1, 4, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [
            numpy_helper.from_array(rng.standard_normal((2, 1, 3, 3)).astype(np.float32), "k"),
            numpy_helper.from_array(rng.standard_normal((8, 3)).astype(np.float32), "w"),
            numpy_helper.from_array(rng.standard_normal(3).astype(np.float32), "b"),
        ],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)], ir_version=10), path)
    return path


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _conv_relu_gemm(tmp_path_factory.mktemp("ort") / "conv.onnx")


@pytest.fixture(scope="module")
def conversions(model: Path) -> dict:
    return {
        style: convert_to_ort(model, optimization_style=style, out_dir=model.parent / style)
        for style in ("Fixed", "Runtime")
    }


def _run(path: Path, x: np.ndarray, options: ort.SessionOptions | None = None) -> np.ndarray:
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    return session.run(None, {"x": x})[0]


def test_both_styles_write_ort_files_that_match_the_onnx_outputs(model, conversions):
    x = np.random.default_rng(1).standard_normal((5, 1, 4, 4)).astype(np.float32)
    expected = _run(model, x)
    for style, conversion in conversions.items():
        assert conversion.optimization_style == style
        assert conversion.ort_path.read_bytes()[4:8] == ORT_MAGIC
        assert conversion.onnx_bytes == model.stat().st_size
        assert conversion.ort_bytes == conversion.ort_path.stat().st_size > 0
        np.testing.assert_allclose(_run(conversion.ort_path, x), expected, rtol=1e-6, atol=1e-6)
    replay = ort.SessionOptions()
    replay.add_session_config_entry("session.enable_saved_runtime_optimizations", "1")
    np.testing.assert_allclose(_run(conversions["Runtime"].ort_path, x, replay), expected, rtol=1e-6, atol=1e-6)


def test_fixed_style_bakes_the_fusion_in_and_runtime_style_saves_it(conversions):
    fixed, runtime = conversions["Fixed"], conversions["Runtime"]
    assert "com.microsoft:FusedConv" in fixed.ort_file.op_types and "Relu" not in fixed.ort_file.op_types
    assert fixed.ort_file.runtime_optimization_records == 0
    assert fixed.ort_path.name == "conv.ort"
    assert runtime.ort_file.op_types == ("Conv", "Relu", "Flatten", "Gemm")
    assert runtime.ort_file.runtime_optimization_records >= 1
    assert runtime.ort_path.name == "conv.with_runtime_opt.ort"
    fixed_ops = {op for line in fixed.required_operators for op in _split(line)}
    runtime_ops = {op for line in runtime.required_operators for op in _split(line)}
    assert "com.microsoft;1;FusedConv" in fixed_ops and "ai.onnx;11;Conv" not in fixed_ops
    # the Runtime config lists the operators before and after the saved fusion: a build must have both
    assert {"ai.onnx;11;Conv", "com.microsoft;1;FusedConv"} <= runtime_ops


def _split(line: str) -> list[str]:
    domain, opset, ops = line.split(";")
    return [f"{domain};{opset};{op}" for op in ops.split(",")]


def test_report_text_is_deterministic_and_names_no_machine_path(conversions):
    text = str(conversions["Fixed"])
    assert "ORT format version" in text and conversions["Fixed"].ort_file.format_version.isdigit()
    assert "com.microsoft;1;Fused" in text
    assert str(Path.home()) not in text or str(Path.home()) == "/"
    assert "KiB" in conversions["Fixed"].size_text() or "B" in conversions["Fixed"].size_text()


def test_read_ort_file_refuses_a_renamed_onnx_file(model, tmp_path):
    renamed = tmp_path / "renamed.ort"
    renamed.write_bytes(model.read_bytes())
    with pytest.raises(NotAnOnnxModelError, match="not an ORT-format file"):
        read_ort_file(renamed)


def test_bad_inputs_are_one_line_course_errors(tmp_path):
    with pytest.raises(ModelFileNotFoundError):
        convert_to_ort(tmp_path / "missing.onnx")
    other = tmp_path / "model.pb"
    other.write_bytes(b"x")
    with pytest.raises(NotAnOnnxModelError, match=r"\*\.onnx"):
        convert_to_ort(other)
    broken = tmp_path / "broken.onnx"
    broken.write_bytes(b"this is not a protobuf")
    with pytest.raises(OrtConversionError, match=r"converter failed on broken\.onnx") as caught:
        convert_to_ort(broken, out_dir=tmp_path / "out")
    assert "\n" not in str(caught.value)


def test_an_ort_file_given_as_an_onnx_model_is_named_so(conversions, capsys):
    """A .ort file passed to the loader, the compatibility checker or the gate: one line naming ORT format (the
    'ORTM' identifier), not "protobuf could not parse it ... Re-export it"."""
    from course_utils.compat import main as compat_main
    from course_utils.deploy.gate import run_gate
    from course_utils.onnxfile.modelio import load_model

    ort_path = conversions["Fixed"].ort_path
    for source in (ort_path, ort_path.read_bytes()):
        with pytest.raises(NotAnOnnxModelError, match=r"ORT-format file.*check the \.onnx it was converted from"):
            load_model(source)
    assert compat_main([str(ort_path)]) == 2
    err = capsys.readouterr().err
    assert "an ORT-format file" in err and "Re-export" not in err and len(err.strip().splitlines()) == 1
    with pytest.raises(NotAnOnnxModelError, match="ORT-format file"):
        run_gate(ort_path, reference=ort_path.with_suffix(".npz"))


def test_a_second_conversion_of_the_same_bytes_reuses_the_files(model, tmp_path, monkeypatch):
    """The same model bytes, style and release: the earlier files are reused (no child process); other bytes under
    the same name, or an .ort file replaced since, are converted again."""
    import subprocess

    import course_utils.deploy.ort_format as ort_format

    source = tmp_path / "conv.onnx"
    source.write_bytes(model.read_bytes())
    first = convert_to_ort(source, out_dir=tmp_path / "out")
    first_bytes = first.ort_path.read_bytes()
    runs = []
    real_run = subprocess.run
    monkeypatch.setattr(ort_format.subprocess, "run", lambda *a, **k: runs.append(a) or real_run(*a, **k))
    again = convert_to_ort(source, out_dir=tmp_path / "out")
    assert runs == [] and again == first
    first.ort_path.write_bytes(first.ort_path.read_bytes() + b"\0")  # replaced since
    convert_to_ort(source, out_dir=tmp_path / "out")
    assert len(runs) == 1
    other = onnx.load(source)
    other.graph.initializer[0].raw_data = bytes(len(other.graph.initializer[0].raw_data))
    onnx.save(other, source)
    changed = convert_to_ort(source, out_dir=tmp_path / "out")
    assert len(runs) == 2 and changed.ort_path.read_bytes() != first_bytes


def test_reading_an_ort_file_leaves_torch_unimported_and_importable(conversions):
    """onnxruntime.tools imports torch when installed; reading an .ort file keeps it out (seconds in a kernel) and
    a later import torch still works."""
    import subprocess
    import sys

    code = (
        "import sys; from course_utils.deploy.ort_format import read_ort_file; "
        f"read_ort_file({str(conversions['Fixed'].ort_path)!r}); print('torch' in sys.modules); "
        "import importlib.util; print(importlib.util.find_spec('torch') is not None)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == ["False", "True"]
