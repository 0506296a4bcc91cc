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
from course_utils.models.data import load_digits, load_digits_cnn, load_manifest


def load_make_data():
    spec = importlib.util.spec_from_file_location("make_data", paths.DATA_DIR / "make_data.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_data"] = module  # dataclasses look their module up while the file executes
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
    state = torch.load(paths.DATA_DIR / "digits_resnet.pt", weights_only=True)
    assert make_data.sha256_arrays([v.numpy() for v in state.values()]) == manifest["digits_resnet"]["content_sha256"]


def test_digits_resnet_reaches_the_stated_accuracies():
    """Lesson 07's trap model: as accurate as the manifest says, on clean and on shifted test digits."""
    import torch

    from course_utils.models.digits_resnet import load_digits_resnet, shifted_digits

    digits, model = load_digits(), load_digits_resnet()
    stated = load_manifest()["digits_resnet"]
    for images, key in (
        (digits.x_test, "test_accuracy"),
        (shifted_digits(digits.x_test, seed=1), "shifted_test_accuracy"),
    ):
        with torch.no_grad():
            accuracy = float((model(torch.from_numpy(images)).argmax(1).numpy() == digits.y_test).mean())
        assert accuracy == pytest.approx(stated[key], abs=1e-4)
        assert accuracy > 0.9


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
        "from course_utils.models.data import load_digits, load_digits_keras; d = load_digits(); m = load_digits_keras();"
        "p = m.predict(d.nhwc(d.x_test), verbose=0);"
        "print(make_data.sha256_arrays([w for w in m.get_weights()]));"
        "print((p.argmax(1) == d.y_test).mean())"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    weights_hash, accuracy = out.strip().splitlines()[-2:]
    manifest = load_manifest()["keras_cnn"]
    assert weights_hash == manifest["content_sha256"]
    assert float(accuracy) == pytest.approx(manifest["test_accuracy"], abs=1e-4)


REBUILD_ISAS = (None, "AVX2")


@pytest.fixture(scope="module")
def rebuilds() -> dict[str | None, subprocess.CompletedProcess[str]]:
    """``make_data.py --check`` under the CPU's own instruction set and under AVX2, started together: each trains
    on one thread, so on two cores the pair takes the time of one."""
    running = {}
    for isa in REBUILD_ISAS:
        env = {k: v for k, v in os.environ.items() if k != "ONEDNN_MAX_CPU_ISA"} | (
            {"ONEDNN_MAX_CPU_ISA": isa} if isa else {}
        )
        command = [sys.executable, str(paths.DATA_DIR / "make_data.py"), "--check"]
        running[isa] = (
            command,
            subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env),
        )
    done = {}
    for isa, (command, process) in running.items():
        stdout, stderr = process.communicate(timeout=300)
        done[isa] = subprocess.CompletedProcess(command, process.returncode, stdout, stderr)
    return done


@pytest.mark.slow
@pytest.mark.parametrize("isa", REBUILD_ISAS, ids=["default-isa", "avx2"])
def test_data_rebuild_reproduces_what_is_committed(isa, rebuilds):
    # Under the CPU's own instruction set and under AVX2 (what an older laptop has): retrained weights may differ
    # there, so this proves what holds everywhere, the same dataset and models that predict the same.
    result = rebuilds[isa]
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    said = f"ONEDNN_MAX_CPU_ISA={isa}" if isa else "ONEDNN_MAX_CPU_ISA not set"
    assert said in lines[0]
    for file in ("digits.npz", "digits_cnn.pt", "digits_keras.keras", "digits_resnet.pt"):
        assert any(line.startswith(f"PASS  {file}: ") for line in lines), result.stdout
    assert "content hash 4a1f3378b54f identical" in result.stdout
    assert lines[-1] == "data/ is reproduced by a fresh rebuild: every file passed"


def test_manifest_states_how_each_file_is_rebuilt():
    make_data = load_make_data()
    manifest = load_manifest()
    assert manifest["digits"]["rebuild_check"] == {"identical_content": True}
    for key in ("torch_cnn", "keras_cnn", "digits_resnet"):
        # Written by make_data.py: the committed rule and the script's constants must not drift apart.
        assert manifest[key]["rebuild_check"] == {
            "identical_content": False,
            "accuracy_tolerance": make_data.ACCURACY_TOLERANCE,
            "min_agreement": make_data.MIN_AGREEMENT,
        }
    assert 0 < make_data.ACCURACY_TOLERANCE <= 0.02 and 0.98 <= make_data.MIN_AGREEMENT < 1


def test_rebuild_check_passes_float_noise_and_explains_it():
    make_data = load_make_data()
    committed = load_manifest()["torch_cnn"]
    rebuilt = {**committed, "content_sha256": "0" * 64, "test_accuracy": committed["test_accuracy"] - 0.0056}
    finding = make_data.check_model(committed, rebuilt, same_class=358, images=360, weight_gap=0.04)
    assert finding.passed
    assert finding.line() == (
        "PASS  digits_cnn.pt: test accuracy 0.9861, stated 0.9917 ± 0.0100; same class as the committed model on"
        " 358/360 test images (99.44%, needs ≥ 99%); weights differ from the committed ones by up to 4.0e-02"
        " (expected on another CPU or instruction set; not required)"
    )
    same = make_data.check_model(committed, committed, same_class=360, images=360, weight_gap=0.0)
    assert same.passed and "weights bit-identical to the committed ones" in same.detail


@pytest.mark.parametrize(
    ("rule", "changes", "same_class", "why"),
    [
        ({}, {"test_accuracy": 0.9750}, 360, "test accuracy 0.9750, stated 0.9917 ± 0.0100 (FAIL: off by 0.0167)"),
        ({}, {}, 355, "on 355/360 test images (98.61%, needs ≥ 99%) (FAIL: too few)"),
        (
            {"identical_content": True},
            {"content_sha256": "0" * 64},
            360,
            "weights differ from the committed ones by up to 5.0e-01 (FAIL: required identical)",
        ),
    ],
    ids=["less-accurate", "predicts-differently", "bits-required"],
)
def test_rebuild_check_fails_a_model_that_behaves_differently(rule, changes, same_class, why):
    make_data = load_make_data()
    committed = load_manifest()["torch_cnn"]
    committed = {**committed, "rebuild_check": {**committed["rebuild_check"], **rule}}
    finding = make_data.check_model(committed, {**committed, **changes}, same_class, 360, 0.5)
    assert not finding.passed
    assert finding.line().startswith("FAIL  digits_cnn.pt: ")
    assert why in finding.line()


def test_rebuild_check_requires_the_same_dataset():
    make_data = load_make_data()
    committed = load_manifest()["digits"]
    assert make_data.check_dataset(committed, dict(committed)).passed
    finding = make_data.check_dataset(committed, {**committed, "content_sha256": "ab" * 32})
    assert not finding.passed
    assert finding.line().startswith(
        "FAIL  digits.npz: content hash abababababab differs from the committed 4a1f3378b54f"
    )


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
