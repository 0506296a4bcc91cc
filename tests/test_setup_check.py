from __future__ import annotations

import json
import subprocess
import sys

import pytest
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
    assert text.splitlines()[:3] == ["[ok]    a  fine", "[FAIL]  b  broken", "           fix: do this"]
    assert "NOT ready" in text
    assert not report.passed and report.counts() == {OK: 1, WARN: 0, FAIL: 1}
    assert report.overview().splitlines()[:2] == ["[ok]   a", "[FAIL] b"]
    html = report._repr_html_()
    assert "<table" in html and html.count("<tr") == 3 and "fix: do this" in html  # header + one row per check
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


# The int8 case of a CPU (lesson 07): classified from flag sets, so these hold on any machine.
@pytest.mark.parametrize(
    ("flags", "machine", "key"),
    [
        ({"avx2", "avx512f", "avx512_vnni"}, "x86_64", "x86-vnni"),
        ({"avx2", "avx_vnni"}, "x86_64", "x86-vnni"),
        ({"avx2", "avx512f", "amx_int8"}, "x86_64", "x86-vnni"),
        ({"avx2", "avx512f", "avx512bw"}, "x86_64", "x86-avx512"),
        ({"sse4_2", "avx", "avx2", "fma"}, "x86_64", "x86-avx2"),
        ({"asimd", "asimddp"}, "aarch64", "arm-dotprod"),
        ({"asimddp"}, "arm64", "arm-dotprod"),
        ({"asimd"}, "aarch64", "arm-no-dotprod"),
        (set(), "x86_64", "unknown"),
    ],
)
def test_int8_case(flags, machine, key):
    case = setup_check.int8_case(flags, machine)
    assert case.key == key and case.label and case.expect


def test_no_vnni_advice_names_the_saturation_fixes():
    for flags in ({"avx2"}, {"avx2", "avx512f"}):
        advice = setup_check.int8_case(flags, "x86_64").expect
        assert "reduce_range=True" in advice and "session.x64quantprecision" in advice


def test_linux_flags_from_cpuinfo(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse4_2 avx2 avx512f avx512_vnni\nbugs\t\t: none\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd evtstrm aes asimddp\nCPU part\t: 0xd0c\n")
    assert {"avx512_vnni", "avx2"} <= setup_check.cpu_flags(x86)
    assert setup_check.int8_case(setup_check.cpu_flags(arm), "aarch64").key == "arm-dotprod"


def test_macos_flags_from_sysctl():
    apple = "hw.optional.neon: 1\nhw.optional.arm.FEAT_DotProd: 1\nhw.optional.arm.FEAT_BF16: 1\n"
    intel = "hw.optional.avx2_0: 1\nhw.optional.avx512f: 1\nhw.optional.avx512vnni: 0\n"
    assert setup_check._macos_flags(apple) == {"asimd", "asimddp"}
    assert setup_check._macos_flags(intel) == {"avx2", "avx512f"}


def test_unreadable_flags_degrade_to_unknown(tmp_path):
    flags = setup_check.cpu_flags(tmp_path / "no-cpuinfo", system="win32")
    assert flags == set()
    assert setup_check.int8_case(flags, "AMD64").key == "unknown"


def test_cpu_check_reports_the_int8_case_and_stays_ok():
    check = setup_check.check_cpu()
    assert check.status in (OK, WARN) and ("int8" in check.detail or "measure" in check.detail)
