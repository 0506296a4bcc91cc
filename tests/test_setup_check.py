from __future__ import annotations

import json
import subprocess
import sys

from packaging.requirements import Requirement

from course_utils import paths, setup_check
from course_utils.setup_check import FAIL, OK, WARN, Check, SetupReport


def test_this_environment_passes():
    report = setup_check.run_checks()
    assert report.passed, str(report)
    names = [c.name for c in report.checks]
    for expected in ("python", "cpu", "onnx", "onnxruntime", "torch", "netron", "onnxruntime providers"):
        assert expected in names
    assert "ready for the course" in report.summary()


def test_missing_package_fails_with_a_fix():
    [check] = setup_check.check_packages({"not-a-real-pkg": Requirement("not-a-real-pkg==1.0")}, ["not-a-real-pkg"])
    assert check.status == FAIL
    assert "not installed (wanted ==1.0)" in check.detail and "./course setup" in check.fix


def test_version_drift_warns():
    [check] = setup_check.check_packages({"numpy": Requirement("numpy==0.0.1")}, ["numpy"])
    assert check.status == WARN and "pin is ==0.0.1" in check.detail
    assert "pip install 'numpy==0.0.1'" in check.fix


def test_local_build_label_satisfies_the_pin():
    [check] = setup_check.check_packages(names=["torch"])
    assert check.status == OK  # 2.13.0+cpu satisfies ==2.13.0


def test_missing_data_fails_with_a_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path)
    [check] = setup_check.check_data()
    assert check.status == FAIL and "git checkout -- data" in check.fix


def test_corrupt_model_file_fails_with_a_fix(monkeypatch, tmp_path):
    for name in ("digits.npz", "manifest.json", "digits_keras.keras"):
        (tmp_path / name).write_bytes((paths.DATA_DIR / name).read_bytes())
    (tmp_path / "digits_cnn.pt").write_bytes(b"not a torch file")
    monkeypatch.setattr(paths, "DATA_DIR", tmp_path)
    checks = {c.name: c for c in setup_check.check_data(load_models=False)}
    assert checks["data: digits_cnn.pt"].status == OK  # present...
    monkeypatch.setattr(setup_check, "_keras_accuracy", lambda digits: 0.9833)
    checks = {c.name: c for c in setup_check.check_data()}
    assert checks["data: digits_cnn.pt"].status == FAIL  # ...but does not load
    assert "does not load" in checks["data: digits_cnn.pt"].detail


def test_unwritable_artifacts_folder_fails(monkeypatch, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    monkeypatch.setattr(setup_check, "ARTIFACTS_DIR", blocker / "sub")
    check = setup_check.check_artifacts_writable()
    assert check.status == FAIL and "COURSE_ARTIFACTS_DIR" in check.fix


def test_report_rendering():
    report = SetupReport([Check("a", OK, "fine"), Check("b", FAIL, "broken", "do this")])
    text = str(report)
    assert "[FAIL] b" in text and "fix: do this" in text and "NOT ready" in text
    assert not report.passed and report.counts() == {OK: 1, WARN: 0, FAIL: 1}
    assert report.overview().splitlines()[:2] == ["[ok]   a", "[FAIL] b"]
    assert "<table>" in report._repr_html_()
    assert json.loads(report.to_json())["passed"] is False


def test_cpu_features_shape():
    info = setup_check.cpu_features()
    assert info["cores"] >= 1 and isinstance(info["flags"], list)


def test_command_line():
    result = subprocess.run(
        [sys.executable, "-m", "course_utils.setup_check", "--json"], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout)["passed"] is True
    assert result.stderr == "", "TensorFlow's start-up chatter must not leak into the report"
