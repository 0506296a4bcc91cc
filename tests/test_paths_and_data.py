from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import numpy as np
import pytest

import course_utils
from course_utils import paths
from course_utils.data import load_digits, load_digits_cnn, load_manifest


def load_make_data():
    spec = importlib.util.spec_from_file_location("make_data", paths.DATA_DIR / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_artifact_path_is_inside_the_ignored_folder():
    path = paths.artifact_path("sub/model.onnx", lesson="99")
    assert path.parent.is_dir()
    assert path.is_relative_to(paths.ARTIFACTS_DIR)
    assert paths.relative_to_repo(path).endswith("99/sub/model.onnx")
    gitignore = (paths.REPO_ROOT / ".gitignore").read_text()
    assert "artifacts/" in gitignore


@pytest.mark.parametrize("bad", ["/etc/passwd", "../escape.onnx", "a/../../b"])
def test_artifact_path_refuses_to_escape(bad):
    with pytest.raises(ValueError, match="relative path inside the artifacts folder"):
        paths.artifact_path(bad)


def test_artifacts_dir_can_be_moved(tmp_path):
    code = "from course_utils.paths import artifact_path; print(artifact_path('x.onnx', lesson='01'))"
    env = {**os.environ, "COURSE_ARTIFACTS_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(tmp_path / "01" / "x.onnx")


def test_missing_data_file_says_how_to_fix():
    with pytest.raises(FileNotFoundError, match=r"not in .*Rebuild the data with `./course data`"):
        paths.data_path("nope.npz")


def test_relative_to_repo_leaves_outside_paths_alone(tmp_path):
    assert paths.relative_to_repo(tmp_path / "x") == str(tmp_path / "x")
    assert paths.relative_to_repo(paths.DATA_DIR / "digits.npz") == "data/digits.npz"


def test_digits_split():
    digits = load_digits()
    assert digits.x_train.shape == (1437, 1, 8, 8) and digits.x_test.shape == (360, 1, 8, 8)
    assert digits.x_train.dtype == np.float32 and digits.y_train.dtype == np.int64
    assert digits.x_train.min() >= 0.0 and digits.x_train.max() <= 1.0
    assert sorted(np.unique(digits.y_test)) == list(range(10))
    assert digits.nhwc(digits.x_test).shape == (360, 8, 8, 1)
    assert digits.flat(digits.x_test).shape == (360, 64)
    assert np.array_equal(digits.nhwc(digits.x_test)[..., 0], digits.x_test[:, 0])


def test_committed_files_hold_what_the_manifest_says():
    make_data = load_make_data()
    manifest = load_manifest()
    with np.load(paths.DATA_DIR / "digits.npz") as f:
        arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    assert make_data.sha256_arrays(arrays) == manifest["digits"]["content_sha256"]
    import torch

    state = torch.load(paths.DATA_DIR / "digits_cnn.pt", weights_only=True)
    assert make_data.sha256_arrays([v.numpy() for v in state.values()]) == manifest["torch_cnn"]["content_sha256"]


def test_torch_cnn_reaches_the_stated_accuracy():
    import torch

    digits = load_digits()
    with torch.no_grad():
        predictions = load_digits_cnn()(torch.from_numpy(digits.x_test)).argmax(1).numpy()
    accuracy = float((predictions == digits.y_test).mean())
    assert accuracy == pytest.approx(load_manifest()["torch_cnn"]["test_accuracy"], abs=1e-4)
    assert accuracy > 0.97


def test_keras_model_matches_the_manifest():
    # In a subprocess: TensorFlow must not share this process with torch's threads in other tests.
    code = (
        "import os, sys; os.environ['TF_CPP_MIN_LOG_LEVEL']='3'; os.environ['TF_ENABLE_ONEDNN_OPTS']='0';"
        f"sys.path.insert(0, {str(paths.DATA_DIR)!r}); import make_data;"
        "from course_utils.data import load_digits, load_digits_keras; d = load_digits(); m = load_digits_keras();"
        "p = m.predict(d.nhwc(d.x_test), verbose=0);"
        "print(make_data.sha256_arrays([w for w in m.get_weights()]));"
        "print((p.argmax(1) == d.y_test).mean())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    weights_hash, accuracy = out.strip().splitlines()[-2:]
    manifest = load_manifest()["keras_cnn"]
    assert weights_hash == manifest["content_sha256"]
    assert float(accuracy) == pytest.approx(manifest["test_accuracy"], abs=1e-4)


@pytest.mark.slow
def test_data_rebuilds_identically():
    result = subprocess.run(
        [sys.executable, str(paths.DATA_DIR / "make_data.py"), "--check"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "matches a fresh rebuild" in result.stdout


def test_data_folder_is_small():
    total = sum(p.stat().st_size for p in paths.DATA_DIR.iterdir() if p.is_file())
    assert total < 3_000_000, f"data/ is {total} bytes: keep committed data to a few MB"
    assert json.loads((paths.DATA_DIR / "manifest.json").read_text())["digits"]["test"] == 360


def test_lazy_package_attributes():
    assert course_utils.load_digits is load_digits
    assert "load_digits" in dir(course_utils)
    with pytest.raises(AttributeError):
        course_utils.no_such_helper  # noqa: B018


@pytest.mark.parametrize("lesson", ["/tmp/elsewhere", "../escape", "02/../../x"])
def test_artifact_lesson_folder_cannot_escape(lesson):
    with pytest.raises(ValueError, match="lesson must be a relative path"):
        paths.artifact_path("x.onnx", lesson=lesson)


def test_relative_to_repo_with_a_moved_artifacts_folder(tmp_path):
    code = (
        "from course_utils.paths import artifact_path, relative_to_repo;"
        "print(relative_to_repo(artifact_path('m.onnx', lesson='02')));"
        f"print(relative_to_repo({str(tmp_path / 'other.onnx')!r}))"
    )
    env = {**os.environ, "COURSE_ARTIFACTS_DIR": str(tmp_path / "arts")}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.splitlines() == ["artifacts/02/m.onnx", str(tmp_path / "other.onnx")]
