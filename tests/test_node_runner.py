"""Node.js and the course's npm packages: the runner's outputs equal Python's (.onnx and .ort), and a missing
Node.js or missing packages give the one-line errors that say how to install them."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from course_test_helpers import need_node

from course_utils.deploy import js_packages_dir, node_available, npm_load_errors, run_in_node, run_node
from course_utils.deploy.node import RUN_SCRIPT, short_ort_error
from course_utils.errors import NodeNotFoundError, NpmPackagesMissingError
from course_utils.models.registry import onnx_path
from course_utils.runtime.sessions import create_session


@pytest.fixture(scope="module")
def digits_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """DigitsCNN's .onnx (the registry's cached export) and its ORT-format .ort, made by onnxruntime's own tool."""
    need_node()
    model = onnx_path("digits_cnn")
    out = tmp_path_factory.mktemp("ort")
    subprocess.run(
        [sys.executable, "-m", "onnxruntime.tools.convert_onnx_models_to_ort", str(model), "--output_dir", str(out)],
        check=True,
        capture_output=True,
    )
    return model, out / f"{model.stem}.ort"


def test_the_runner_is_short_and_uses_the_real_api() -> None:
    script = (js_packages_dir() / RUN_SCRIPT).read_text(encoding="utf-8")
    assert 'import * as ort from "onnxruntime-node"' in script and "InferenceSession.create" in script
    assert len(script.splitlines()) <= 20


@pytest.mark.parametrize("kind", [".onnx", ".ort"])
def test_node_outputs_equal_pythons(digits_files: tuple[Path, Path], kind: str) -> None:
    model = digits_files[0] if kind == ".onnx" else digits_files[1]
    assert model.suffix == kind and model.is_file()
    image = np.random.default_rng(7).random((3, 1, 8, 8), dtype=np.float32)
    expected = create_session(str(digits_files[0])).run(None, {"image": image})[0]
    got = run_in_node(model, {"image": image})
    assert list(got) == ["logits"] and got["logits"].shape == (3, 10)
    np.testing.assert_allclose(got["logits"], expected, rtol=0, atol=1e-5)
    assert not np.allclose(got["logits"][0], got["logits"][1])  # real outputs, not one repeated row


def test_onnxruntime_web_loads_the_ort_file_too(digits_files: tuple[Path, Path]) -> None:
    # ORT format written by Python's onnxruntime 1.32 loads in the npm packages 1.31.1 (the format's version is
    # what counts, and the browser page accepts .ort files).
    assert npm_load_errors([digits_files[1]], "web") == [None]


def test_run_node_takes_source_text_with_the_packages_in_reach() -> None:
    need_node()
    script = 'import * as ort from "onnxruntime-web";\nconsole.log(typeof ort.InferenceSession, process.argv[2]);\n'
    result = run_node(script, "hello", timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["function", "hello"]


def test_a_model_node_cannot_run_raises_its_own_message(tmp_path: Path) -> None:
    need_node()
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model")
    with pytest.raises(RuntimeError, match=r"onnxruntime-node could not run bad\.onnx"):
        run_in_node(bad, {"x": np.zeros(1, np.float32)})
    with pytest.raises(TypeError, match="float32"):
        run_in_node(bad, {"x": np.zeros(1, np.int64)})


def test_missing_packages_and_missing_node_say_how_to_install(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COURSE_JS_DIR", str(tmp_path))  # a folder without node_modules
    if shutil.which("node"):
        assert not node_available()
        with pytest.raises(NpmPackagesMissingError, match="npm ci") as caught:
            run_node("console.log(1)")
        assert len(str(caught.value).splitlines()) == 1
    monkeypatch.setenv("PATH", str(tmp_path))  # no node on PATH
    assert not node_available()
    with pytest.raises(NodeNotFoundError, match=r"install Node\.js") as missing:
        run_node("console.log(1)")
    assert len(str(missing.value).splitlines()) == 1


def test_short_error_keeps_what_is_wrong() -> None:
    raw = (
        "Can't create a session. ERROR_CODE: 1, ERROR_MESSAGE: /src/onnxruntime/core/graph/model.cc:257 "
        "onnxruntime::Model::Model(ModelProto &&, const PathString &) Unsupported model IR version: 14, "
        "max supported IR version: 13\n"
    )
    assert short_ort_error(raw) == "Unsupported model IR version: 14, max supported IR version: 13"
    assert short_ort_error("unsupported data type: 16") == "unsupported data type: 16"
