"""notebooks/cheatsheet.md: the canonical calls are all there, and every ```python block runs as written."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import onnx
import pytest

from course_utils.paths import REPO_ROOT

SHEET = REPO_ROOT / "notebooks" / "cheatsheet.md"

# What a learner looks the sheet up for (issue #8, section 5), as it must appear in the code.
CANONICAL_CALLS = [
    "torch.onnx.export(",
    "dynamic_shapes=",
    "dynamo=False",
    "dynamic_axes=",
    "tf2onnx.convert.from_function(",
    '.export("keras_export.onnx", format="onnx"',
    "to_onnx(",
    "onnx.checker.check_model(",
    "full_check=True",
    "onnx.shape_inference.infer_shapes(",
    'ort.InferenceSession("model.onnx", providers=["CPUExecutionProvider"])',
    "session.get_inputs()",
    "session.run(None, feed)",
    "helper.make_node(",
    "helper.make_graph(",
    "helper.make_model(",
    "numpy_helper.from_array(",
    "numpy_helper.to_array(",
    "onnx.utils.extract_model(",
    "np.testing.assert_allclose(",
    "ort.SessionOptions()",
    "onnx.version_converter.convert_version(",
    "save_as_external_data=True",
    "helper.make_function(",
    "register_custom_ops_library(",
    "custom_translation_table=",
    "optimized_model_filepath",
    "intra_op_num_threads",
    "time.perf_counter()",
    "np.percentile(",
    "enable_profiling = True",
    ".end_profiling()",
    "quant_pre_process(",
    "quantize_dynamic(",
    "quantize_static(",
    "CalibrationDataReader",
    "QuantFormat.QDQ",
    "activation_type=QuantType.QUInt8",
    "weight_type=QuantType.QInt8",
    "per_channel=True",
    "convert_onnx_models_to_ort",
    "session.enable_saved_runtime_optimizations",
    "status_code=400",
    "write_reference(",
    "run_gate(",
    "python -m course_utils.gate",
]
# The files the blocks write, in the empty folder they run in.
WRITTEN = [
    "model.onnx",
    "model_legacy.onnx",
    "keras_fn.onnx",
    "keras_export.onnx",
    "sklearn.onnx",
    "tiny.onnx",
    "head.onnx",
    "model_optimized.onnx",
    "model_prep.onnx",
    "model_dynamic_int8.onnx",
    "model_static_int8.onnx",
    "model_web.onnx",
]

# Runs each block from its own file (AutoGraph reads a tf.function's source from disk), in one shared namespace,
# top to bottom like notebook cells; says which block failed.
RUNNER = """
import sys, traceback
from pathlib import Path

namespace = {"__name__": "__main__"}
for path in sorted(Path(".").glob("block_*.py")):
    try:
        exec(compile(path.read_text(encoding="utf-8"), str(path.resolve()), "exec"), namespace)
    except Exception:
        traceback.print_exc()
        print(f"FAILED {path.name}")
        sys.exit(1)
    print(f"ran {path.name}", flush=True)
"""


def python_blocks() -> list[str]:
    return re.findall(r"^```python\n(.*?)^```$", SHEET.read_text(encoding="utf-8"), re.S | re.M)


def test_sheet_has_every_canonical_call():
    code = "\n".join(python_blocks())
    missing = [call for call in CANONICAL_CALLS if call not in code]
    assert missing == []


def test_blocks_are_python_and_ruff_formatted(tmp_path):
    blocks = python_blocks()
    assert len(blocks) >= 8
    for number, block in enumerate(blocks, 1):
        compile(block, f"<cheatsheet block {number}>", "exec")
        (tmp_path / f"block_{number}.py").write_text(block, encoding="utf-8")
    ruff = shutil.which("ruff", path=str(Path(sys.executable).parent)) or shutil.which("ruff")
    if ruff is None:
        pytest.skip("ruff is not installed here")
    result = subprocess.run(
        [ruff, "format", "--check", "--config", str(REPO_ROOT / "pyproject.toml"), str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_sheet_links_lessons_that_exist():
    links = re.findall(r"\]\(([^)#]+\.ipynb)\)", SHEET.read_text(encoding="utf-8"))
    assert links
    for link in links:
        assert (SHEET.parent / link).is_file(), link


@pytest.mark.slow
def test_every_block_runs_top_to_bottom_in_an_empty_folder(tmp_path):
    for number, block in enumerate(python_blocks(), 1):
        (tmp_path / f"block_{number:02}.py").write_text(block, encoding="utf-8")
    (tmp_path / "run_blocks.py").write_text(RUNNER, encoding="utf-8")
    # A fresh interpreter: TensorFlow and PyTorch load together there, as in a learner's notebook.
    result = subprocess.run(
        [sys.executable, "run_blocks.py"], cwd=tmp_path, capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-5000:]
    assert result.stdout.count("ran block_") == len(python_blocks())
    for name in WRITTEN:
        onnx.checker.check_model(str(tmp_path / name), full_check=True)
    assert (tmp_path / "external.onnx.data").stat().st_size > 0
    # The dynamic batch the exporters were asked for is in the files.
    for name in ("model.onnx", "model_legacy.onnx", "keras_fn.onnx"):
        dim = onnx.load(tmp_path / name).graph.input[0].type.tensor_type.shape.dim[0]
        assert dim.dim_param and not dim.dim_value, (name, dim)
